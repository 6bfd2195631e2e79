/** Restrictive-network rig 'pass' in Chromium (see e2e/rigs/README.md). */
import { rigSuite } from '../rigs/spec.js';

rigSuite('pass');
