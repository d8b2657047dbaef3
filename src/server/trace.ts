import type { LabEvent } from '../accept-loop/lab-events.js';
import { formatByte } from '../accept-loop/sniff.js';

/**
 * One readable line per loop event, each with its 5-tuple, for `serve --trace` and the experiments:
 *
 *   12:00:01.234 accept   #3 tcp 127.0.0.1:8080 127.0.0.1:53412 (live 2)
 */
export function formatTraceLine(event: LabEvent): string {
  const time = new Date(event.time).toISOString().slice(11, 23);
  const who = 'id' in event && event.id !== undefined ? `#${event.id} ${'fiveTuple' in event ? event.fiveTuple : ''}` : 'fiveTuple' in event ? event.fiveTuple ?? '' : '';
  return `${time} ${event.type.padEnd(8)} ${who}${who ? ' ' : ''}${describe(event)}`.trimEnd();
}

function describe(event: LabEvent): string {
  switch (event.type) {
    case 'listen': return `listening on ${event.address}:${event.port} (one passive socket; every accept() makes a new one)`;
    case 'accept': return `(live ${event.live})`;
    case 'refuse': return `refused: ${event.reason}`;
    case 'proxy': return `PROXY header ${event.phase}: ${event.detail}`;
    case 'sniff': return `first byte ${formatByte(event.firstByte)} -> ${event.decided}${event.reason ? ` (${event.reason})` : ''}`;
    case 'tls': return `${event.phase} ${event.detail}`;
    case 'request': return event.stream === undefined
      ? `${event.method} ${event.target} HTTP/${event.version}${event.upgrade ? ` Upgrade: ${event.upgrade}` : ''}`
      : `stream ${event.stream} ${event.method} ${event.target} HTTP/${event.version}${event.upgrade ? ` ${event.upgrade}` : ''}`;
    case 'response': return `${event.stream === undefined ? '' : `stream ${event.stream} `}${event.status} (${event.bytes} B body)`;
    case 'upgrade': return event.stream === undefined
      ? `101 Switching Protocols → ${event.protocol} (${event.headBytes} B arrived with the request)`
      : `stream ${event.stream} 200 to extended CONNECT (RFC 8441) → ${event.protocol}; the connection's other streams go on`;
    case 'stream': return `stream ${event.stream} ${event.phase} ${event.detail}`;
    case 'settings': return `${event.side} SETTINGS ${event.settings}`;
    case 'protocol': return `${event.stream === undefined ? '' : `stream ${event.stream} `}${event.protocol} ${event.direction === 'out' ? '→' : event.direction === 'in' ? '←' : '·'} ${event.kind} ${event.detail}`;
    case 'state': return `${event.from} → ${event.to}`;
    case 'close': return `closed by ${event.closedBy}: ${event.reason} (in ${event.bytesIn} B, out ${event.bytesOut} B)`;
    case 'error': return `${event.code}: ${event.message}`;
    case 'shutdown': return `${event.phase} (live ${event.live})`;
  }
}
