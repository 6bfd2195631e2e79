/**
 * The booleans of a SessionCore, in one small integer field (their bits: core-fields.ts), and the
 * accessors others read them through. A base class of the core, between it and its pump, so that the
 * core's own file keeps the session's behaviour: one field per session either way.
 */
import { ANNOUNCED, LAST_OWNER, UNANNOUNCED, UNCLAIMED } from './core-fields.js';
import { OutboundPump } from './pump.js';

export abstract class CoreFlags extends OutboundPump {
  /** The bits of core-fields.ts. */
  protected flags = 0;

  /**
   * Created by a raced attempt (`race=1`) and not yet claimed by the client: not announced, and
   * discarded without events if the client abandons it (see SessionRegistry.claim).
   */
  get unclaimed(): boolean {
    return (this.flags & UNCLAIMED) !== 0;
  }

  set unclaimed(v: boolean) {
    this.flags = v ? this.flags | UNCLAIMED : this.flags & ~UNCLAIMED;
  }

  /** `connection` was emitted for this session on this node. */
  get announced(): boolean {
    return (this.flags & ANNOUNCED) !== 0;
  }

  set announced(v: boolean) {
    this.flags = v ? (this.flags | ANNOUNCED) & ~UNANNOUNCED : this.flags & ~ANNOUNCED;
  }

  /** Created on this node, `connection` still to come: `transport` waits for it (see UNANNOUNCED). */
  get unannounced(): boolean {
    return (this.flags & UNANNOUNCED) !== 0;
  }

  set unannounced(v: boolean) {
    this.flags = v ? this.flags | UNANNOUNCED : this.flags & ~UNANNOUNCED;
  }

  /** See LAST_OWNER. */
  get lastOwner(): boolean {
    return (this.flags & LAST_OWNER) !== 0;
  }
}
