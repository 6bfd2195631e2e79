/** Restrictive-network rig 'midcut' in Chromium (see e2e/rigs/README.md and ./rig-suite.ts). */
import { rigSuite, rigTest } from './rig-suite.js';

rigSuite('midcut', (title, details, body) => rigTest(title, details, body));
