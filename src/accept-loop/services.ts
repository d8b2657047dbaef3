import type { Limits } from '../limits.js';
import type { CaptureFile } from './capture/capture-file.js';
import type { Registry } from '../registry/registry.js';
import type { Router } from '../server/router.js';
import type { ConnectionTable } from './connection-table.js';
import type { DeadlineWheel } from './deadline-wheel.js';
import type { FrontDoorTls } from './front-door.js';
import type { LabEvents } from './lab-events.js';
import type { TrustedProxies } from './trusted-proxies.js';

/** Proxies in front of the port (`--proxy-protocol`, `--trust-proxy`). */
export interface ProxyTrust {
  /** Connections from trusted addresses must begin with a PROXY protocol header (v1 or v2). */
  readonly protocol: boolean;
  /** Whose PROXY headers, and whose `Forwarded` / `X-Forwarded-For`, are believed. */
  readonly trusted: TrustedProxies;
}

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
  /** Set when proxies in front are trusted for PROXY headers or forwarding fields. */
  readonly proxy: ProxyTrust | undefined;
  /** `serve --pcap`: every connection's bytes as synthesized TCP in one pcapng file. */
  readonly capture: CaptureFile | undefined;
  /** `serve --tls-keylog`: each TLS session's secrets, one NSS key log line at a time. */
  readonly tlsKeylog: ((line: Buffer) => void) | undefined;
}
