/**
 * `GET /_lab/connections/ID/bytes`: the first bytes of one connection, each way, as the lab read and
 * wrote them (decrypted, for TLS), for the dashboard's byte view. JSON:
 *
 *   in / out        base64 of the first `labBytesPerConnection` bytes, with the totals (kept or not)
 *   request         the first request head as received, CR LF and all (latin1: bytes as characters)
 *   response        the first response head the lab wrote (the 101, for an upgrade)
 *   frames          for a WebSocket connection, every frame after the handshake, both ways in time order,
 *                   laid out field by field like RFC 6455 §5.2 (frame-layout.ts); null for others
 *
 * The connection may be live or one of the last few closed (the dashboard lingers on closed rows).
 */
import { ConnectionState } from '../accept-loop/connection-state.js';
import type { ConnectionRecord } from '../accept-loop/connection-table.js';
import type { ConnectionBytes, Direction } from '../accept-loop/capture/connection-bytes.js';
import { type FrameLayout, layoutFrames } from '../protocols/websocket/frame-layout.js';
import type { HttpResponse } from '../server/router.js';
import type { SwitchyardServer } from '../server/server.js';

const BYTES_PATH = /^\/_lab\/connections\/(\d+)\/bytes$/;

/** Payload bytes shown per frame in hex and text: enough for a chat line, bounded for a 64 KiB frame. */
const SHOWN_PAYLOAD_BYTES = 256;

export function installBytesRoute(server: SwitchyardServer): void {
  server.router.getMatching(BYTES_PATH, ({ head }) => {
    const id = Number(BYTES_PATH.exec(head.path)![1]);
    const record = server.table.byId(id);
    if (record === undefined) {
      const owner = server.table.worker === undefined ? '' : ` in this worker (pid ${process.pid}); in a --workers cluster each worker keeps its own connections' bytes`;
      return json(404, { error: `no connection ${id}${owner}: it closed a while ago, or never was` });
    }
    if (record.tap?.bytes === undefined) return json(404, { error: `connection ${id} kept no bytes (limit labBytesPerConnection is 0)` });
    return json(200, connectionBytes(record));
  });
}

export interface ConnectionBytesView {
  id: number;
  fiveTuple: string;
  transport: 'tcp' | 'tls';
  protocol: string | null;
  http: '1.1' | '2';
  open: boolean;
  limitBytes: number;
  in: DirectionView;
  out: DirectionView;
  request: string | null;
  response: string | null;
  frames: Array<FrameLayout & { direction: 'in' | 'out'; at: number | null }> | null;
  /** Why some bytes are not here, when that is so (HTTP/2 read natively, bytes past the limit). */
  notes: string[];
}

interface DirectionView { totalBytes: number; keptBytes: number; base64: string; chunks: Array<[number, number]> }

export function connectionBytes(record: ConnectionRecord): ConnectionBytesView {
  const bytes = record.tap!.bytes!;
  const inbound = bytes.kept('in');
  const outbound = bytes.kept('out');
  const requestEnd = headEnd(inbound);
  const responseEnd = headEnd(outbound);
  const notes: string[] = [];
  const isWebSocket = record.protocol === 'websocket' && record.http2 === undefined;
  let frames: ConnectionBytesView['frames'] = null;
  if (isWebSocket && requestEnd > 0 && responseEnd > 0) {
    frames = [
      ...framesOf(bytes, inbound, requestEnd, 'in'),
      ...framesOf(bytes, outbound, responseEnd, 'out'),
    ].sort((a, b) => (a.at ?? 0) - (b.at ?? 0) || (a.direction === b.direction ? a.offset - b.offset : 0));
  }
  if (record.http2 !== undefined) notes.push('HTTP/2: node:http2 reads the socket natively, so only the bytes before its session started are here; serve --pcap routes them through the tap and keeps them all');
  for (const [name, side] of [['client → server', 'in'], ['server → client', 'out']] as const) {
    if (bytes.total(side) > bytes.keptBytes(side)) notes.push(`${name}: the first ${bytes.keptBytes(side)} of ${bytes.total(side)} bytes are kept (limit labBytesPerConnection)`);
  }
  return {
    id: record.id,
    fiveTuple: record.key,
    transport: record.transport,
    protocol: record.protocol ?? null,
    http: record.http2 === undefined ? '1.1' : '2',
    open: record.state !== ConnectionState.Closed,
    limitBytes: bytes.limit,
    in: directionView(bytes, 'in', inbound),
    out: directionView(bytes, 'out', outbound),
    request: requestEnd > 0 ? inbound.toString('latin1', 0, requestEnd) : null,
    response: responseEnd > 0 ? outbound.toString('latin1', 0, responseEnd) : null,
    frames,
    notes,
  };
}

function directionView(bytes: ConnectionBytes, direction: Direction, kept: Buffer): DirectionView {
  return { totalBytes: bytes.total(direction), keptBytes: kept.length, base64: kept.toString('base64'), chunks: bytes.chunks(direction) };
}

function framesOf(bytes: ConnectionBytes, kept: Buffer, start: number, direction: Direction): Array<FrameLayout & { direction: Direction; at: number | null }> {
  const { frames, partial } = layoutFrames(kept.subarray(start), { maxShownBytes: SHOWN_PAYLOAD_BYTES, startOffset: start });
  const all = partial === null ? frames : [...frames, partial];
  return all.map((frame) => ({ ...frame, direction, at: bytes.timeOf(direction, frame.offset) }));
}

/** Where the first HTTP/1.1 head ends (after its empty line, RFC 9112 §2.1), or 0 when it has not. */
function headEnd(bytes: Buffer): number {
  const end = bytes.indexOf('\r\n\r\n', 0, 'latin1');
  return end < 0 ? 0 : end + 4;
}

function json(status: number, value: unknown): HttpResponse {
  return { status, headers: [['Content-Type', 'application/json'], ['Cache-Control', 'no-store']], body: JSON.stringify(value, null, 2) + '\n' };
}
