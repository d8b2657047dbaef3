/**
 * `connect ws://…` after the handshake: input → messages, messages → output, driven straight over the
 * sans-IO WebSocketProtocol rather than the `WebSocket` session. The session follows the browser's rule
 * (once the application called close(), it gets no more messages); a pipe must keep printing what the
 * peer sent before it saw our Close. `echo hi | switchyard connect …/echo` depends on it: stdin ends at
 * once, so our Close goes out right behind "hi", before the echo of "hi" is back. RFC 6455 §1.4 only
 * asks the side that *received* a Close to discard what follows it.
 *
 * Text mode: each input line (LF or CRLF) is a text message, and a last line without a newline is sent
 * too. Binary mode: each input chunk (≤ 64 KiB, the stream's read size) is a binary message. Received
 * text is printed with a newline after it; received binary is written as raw bytes.
 *
 * `socket` is any duplex: a TCP or TLS socket after a 101, or an HTTP/2 stream after an extended
 * CONNECT's 200 (RFC 8441 §5: the stream carries the same frames, and END_STREAM plays TCP's FIN).
 */
import type { Duplex, Readable, Writable } from 'node:stream';
import { StringDecoder } from 'node:string_decoder';
import { CloseCode } from '../protocols/websocket/close-codes.js';
import type { DeflateSetup } from '../protocols/websocket/permessage-deflate.js';
import { WebSocketProtocol } from '../protocols/websocket/protocol.js';

export interface WebSocketPipeOptions {
  readonly binary: boolean;
  /** Largest message accepted from the peer, and largest line sent. */
  readonly maxMessageBytes: number;
  /** How long each step of the closing handshake may take before TCP is dropped. */
  readonly closeTimeoutMs: number;
  /** permessage-deflate as the server agreed it (RFC 7692); absent: none. */
  readonly deflate?: DeflateSetup;
  /** Told one line per message, with its size on the wire when compression is on (for --verbose). */
  readonly onMessage?: (line: string) => void;
  /**
   * Told every byte as it goes onto or comes off the wire, before the codec sees it (it unmasks received
   * payloads in place), for --hexdump. The bytes are lent: copy what must outlive the call.
   */
  readonly onWire?: (direction: 'sent' | 'received', bytes: Uint8Array) => void;
}

export interface WebSocketPipeOutcome {
  /** Both Close frames passed and TCP closed (RFC 6455 §7.1.4's "cleanly"). */
  readonly clean: boolean;
  /** The peer's close code (1005: its Close had none), the code we failed with, or 1006 (no Close). */
  readonly code: number;
  readonly reason: string;
  /** A local problem that ended the pipe early (e.g. an over-long input line); undefined otherwise. */
  readonly localError?: string;
}

export async function pipeWebSocket(
  socket: Duplex, rest: Uint8Array, input: Readable, output: Writable, options: WebSocketPipeOptions,
): Promise<WebSocketPipeOutcome> {
  const codec = new WebSocketProtocol(options.deflate === undefined
    ? { role: 'client', maxMessageBytes: options.maxMessageBytes }
    : { role: 'client', maxMessageBytes: options.maxMessageBytes, deflate: options.deflate });
  const onMessage = options.onMessage;
  const onWire = options.onWire;
  /** `* sent text 1024 B, deflated to 87 B`: what compression did to one message, for --verbose. */
  const noteMessage = (direction: 'sent' | 'received', kind: string, length: number): void => {
    if (onMessage === undefined) return;
    const wire = codec.compressing ? (codec.lastMessageCompressed ? `, deflated to ${codec.lastMessageWireBytes} B` : ', uncompressed') : '';
    onMessage(`* ${direction} ${kind} ${length} B${wire}`);
  };
  const decoder = new StringDecoder('utf8');
  // The line being collected, in pieces, with its size in bytes kept as it grows: checking the limit
  // must not rescan the whole line for every chunk.
  let pending: string[] = [];
  let pendingBytes = 0;
  let received: { code: number; reason: string } | undefined;
  let failedWith: { code: number; reason: string } | undefined;
  let localError: string | undefined;
  let socketError: string | undefined;
  let timer: NodeJS.Timeout | undefined;
  // A plain listener, not events.once(), which would reject on 'error': a reset is an outcome here.
  const closed = new Promise((resolve) => socket.once('close', resolve));

  const write = (frames: readonly Uint8Array[]): void => {
    if (!socket.writable) return;
    socket.cork();
    let ok = true;
    for (const frame of frames) {
      onWire?.('sent', frame);
      ok = socket.write(frame);
    }
    socket.uncork();
    // Backpressure: stop reading input until the kernel has taken what we queued.
    if (!ok && !input.isPaused()) {
      input.pause();
      socket.once('drain', () => { if (!codec.closeSent) input.resume(); });
    }
  };
  const stopInput = (): void => {
    input.off('data', onInput);
    input.off('end', onInputEnd);
    input.pause();
  };
  /** Each step of the closing handshake gets `closeTimeoutMs`; a peer that stalls loses TCP. */
  const deadline = (then: () => void): void => {
    clearTimeout(timer);
    timer = setTimeout(then, options.closeTimeoutMs);
  };
  const sendClose = (code: number, reason = ''): void => {
    if (codec.closeSent || !socket.writable) return;
    stopInput();
    write(code === CloseCode.NoStatusReceived ? codec.close() : codec.close(code, reason));
  };

  const lineTooLong = (): void => {
    localError = `an input line is over ${options.maxMessageBytes} bytes, the message limit; send large data with --binary`;
    sendClose(CloseCode.Normal);
    deadline(() => socket.destroy());
  };
  const sendLine = (line: string): boolean => {
    if (Buffer.byteLength(line) > options.maxMessageBytes) { lineTooLong(); return false; }
    const text = line.endsWith('\r') ? line.slice(0, -1) : line;
    write(codec.sendText(text));
    noteMessage('sent', 'text', Buffer.byteLength(text));
    return true;
  };
  const takeLine = (last: string): string => {
    const line = pending.length === 0 ? last : pending.join('') + last;
    pending = [];
    pendingBytes = 0;
    return line;
  };
  const onInput = (chunk: Buffer): void => {
    if (codec.closeSent) return;
    if (options.binary) { write(codec.sendBinary(chunk)); noteMessage('sent', 'binary', chunk.length); return; }
    const text = decoder.write(chunk);
    let start = 0;
    for (let newline = text.indexOf('\n'); newline !== -1; newline = text.indexOf('\n', start)) {
      const line = takeLine(text.slice(start, newline));
      start = newline + 1;
      if (!sendLine(line)) return;
    }
    const tail = text.slice(start);
    if (tail === '') return;
    pending.push(tail);
    pendingBytes += Buffer.byteLength(tail);
    // Checked as it grows, so a line that never ends cannot grow without bound.
    if (pendingBytes > options.maxMessageBytes) lineTooLong();
  };
  // End of input: send what is left, then start the closing handshake (§7.1.2) and keep reading.
  const onInputEnd = (): void => {
    if (codec.closeSent) return;
    if (!options.binary) {
      const last = takeLine(decoder.end());
      if (last !== '' && !sendLine(last)) return;
    }
    sendClose(CloseCode.Normal);
    deadline(() => socket.destroy());
  };

  const readEvents = (): void => {
    for (;;) {
      const event = codec.next();
      switch (event.type) {
        case 'need-data':
          return;
        case 'text':
          noteMessage('received', 'text', Buffer.byteLength(event.text));
          print(event.text + '\n');
          break;
        case 'binary':
          noteMessage('received', 'binary', event.data.length);
          print(event.data);
          break;
        case 'ping':
          // §5.5.2: answer with a Pong carrying the same data, unless we already sent our Close (§5.5.1).
          if (!codec.closeSent) write(codec.pong(event.data));
          break;
        case 'pong':
          break;
        case 'close':
          received = { code: event.code, reason: event.reason };
          // §5.5.1: answer a Close with a Close, echoing its code. Then (§7.1.1) the server closes TCP
          // first; we close ours only if it has not done so in time.
          sendClose(event.code, event.reason);
          deadline(() => { socket.end(); deadline(() => socket.destroy()); });
          return;
        case 'error':
          // §7.1.7: fail the connection — a Close with the error's code unless the stream is gone (1006).
          failedWith = { code: event.error.closeCode, reason: event.error.message };
          if (event.error.closeCode !== CloseCode.AbnormalClosure) sendClose(event.error.closeCode);
          stopInput();
          socket.end();
          deadline(() => socket.destroy());
          return;
      }
    }
  };
  const print = (data: string | Uint8Array): void => {
    if (!output.write(data) && !socket.isPaused()) {
      socket.pause();
      output.once('drain', () => socket.resume());
    }
  };

  socket.on('data', (chunk: Buffer) => { onWire?.('received', chunk); codec.receive(chunk); readEvents(); });
  socket.on('end', () => { codec.receiveEnd(); readEvents(); socket.end(); });
  socket.on('error', (error: NodeJS.ErrnoException) => { socketError ??= error.code === 'ECONNRESET' ? 'connection reset by peer' : error.message; });
  input.on('data', onInput);
  input.on('end', onInputEnd);
  // The bytes that came with the 101 are the first frames: before anything read from the socket later.
  if (rest.length > 0) { onWire?.('received', rest); codec.receive(rest); readEvents(); }
  socket.resume();
  await closed;
  clearTimeout(timer);
  stopInput();
  const clean = received !== undefined && codec.closeSent && failedWith === undefined;
  const ending = failedWith ?? received ?? { code: CloseCode.AbnormalClosure, reason: socketError ?? 'the connection ended without a Close frame' };
  return { clean, code: ending.code, reason: ending.reason, ...(localError === undefined ? {} : { localError }) };
}
