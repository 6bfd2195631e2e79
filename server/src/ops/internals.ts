/**
 * What the optional modules (metrics) reach of a Burrow that its public API does not show: its session
 * registry and lifecycle. Filled in by the Burrow's constructor; never exported from the package.
 */
import type { Lifecycle } from './lifecycle.js';
import type { SessionRegistry } from '../session/registry.js';

export interface BurrowInternals {
  readonly registry: SessionRegistry;
  readonly lifecycle: Lifecycle;
}

export const internals = new WeakMap<object, BurrowInternals>();
