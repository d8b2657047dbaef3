import type { Limits } from '../limits.js';
import type { Registry } from '../registry/registry.js';
import type { Router } from '../server/router.js';
import type { ConnectionTable } from './connection-table.js';
import type { DeadlineWheel } from './deadline-wheel.js';
import type { FrontDoorTls } from './front-door.js';
import type { LabEvents } from './lab-events.js';

/** What a connection needs from the server that accepted it; one shared object, not per-connection copies. */
export interface ConnectionServices {
  readonly limits: Limits;
  readonly registry: Registry;
  readonly router: Router;
  readonly table: ConnectionTable;
  readonly events: LabEvents;
  /** One shared timer for every connection's header, idle and linger deadlines. */
  readonly deadlines: DeadlineWheel;
  /** Aborted when graceful shutdown begins; upgraded handlers see it as `ctx.signal`. */
  readonly shutdownSignal: AbortSignal;
  isShuttingDown(): boolean;
  /** Set when the port serves TLS beside cleartext: every connection's first byte then goes to the front door. */
  readonly frontDoorTls: FrontDoorTls | undefined;
}
