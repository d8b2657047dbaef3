import type { ProtocolEvent } from '../../registry/plugin.js';
import type { FrameHeader } from './frame-codec.js';

/**
 * One line per frame for the trace and the dashboard: `text fin=1 len=5`, `continuation fin=0 len=1300`,
 * `ping fin=1 len=0`. A frame is what the wire carries; a message may be many of them (RFC 6455 §5.4),
 * and the lab wants learners to see both.
 *
 * Cost: the trace is usually off. `frameEvent` builds the `detail` string only when something reads it.
 * The loop's `emit` copies the event with a spread only when someone subscribes to the lab's events, and
 * a spread reads the getter; with nobody listening the string is never built.
 */

const OPCODE_NAMES: readonly string[] = [
  'continuation', 'text', 'binary', 'opcode-3', 'opcode-4', 'opcode-5', 'opcode-6', 'opcode-7',
  'close', 'ping', 'pong', 'opcode-11', 'opcode-12', 'opcode-13', 'opcode-14', 'opcode-15',
];

/**
 * `text fin=1 len=5`: the opcode's name, the FIN bit and the payload length, as the trace prints them;
 * `text fin=1 rsv1=1 len=87` for the first frame of a compressed message (RFC 7692 §6).
 */
export function describeFrame(header: FrameHeader): string {
  const name = OPCODE_NAMES[header.opcode] ?? `opcode-${header.opcode}`;
  return `${name} fin=${header.fin ? 1 : 0}${header.rsv1 ? ' rsv1=1' : ''} len=${header.payloadLength}`;
}

/** A `frame` protocol event whose detail is computed on first read. */
export function frameEvent(header: FrameHeader, direction: 'in' | 'out'): ProtocolEvent {
  return lazyEvent('frame', direction, () => describeFrame(header));
}

/** A protocol event whose detail is computed on first read (see the file comment). */
export function lazyEvent(kind: string, direction: 'in' | 'out' | undefined, describe: () => string): ProtocolEvent {
  if (direction === undefined) return { kind, get detail() { return describe(); } };
  return { kind, direction, get detail() { return describe(); } };
}
