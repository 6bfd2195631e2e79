/** Restrictive-network rig 'squid' in Chromium (see e2e/rigs/README.md and ./rig-suite.ts). */
import { rigSuite, rigTest } from './rig-suite.js';

rigSuite('squid', (title, details, body) => rigTest(title, details, body));
