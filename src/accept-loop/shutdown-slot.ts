/**
 * The one goodbye a connection or an HTTP/2 stream holds for graceful shutdown: its current owner (the
 * HTTP/1.1 loop, a WebSocket session, a lab-chat member) registers a handler and a target, a new owner
 * replaces it, and shutdown runs it at most once. Both ConnectionRecord and StreamRecord keep one, so a
 * protocol says goodbye the same way whether it got a TCP socket or a stream.
 *
 * The target is stored beside the handler instead of captured in a closure, so a protocol can register a
 * static function (`Session.shutdown`) with no per-connection allocation.
 */
export class ShutdownSlot {
  #handler: ((target: any) => void) | undefined;
  #target: unknown;

  /** Register (or, with `undefined`, clear) what shutdown runs; the last call wins. */
  set<T>(handler: ((target: T) => void) | undefined, target?: T): void {
    this.#handler = handler;
    this.#target = handler === undefined ? undefined : target;
  }

  /** The owner is gone (the socket or stream closed): nothing to run any more. */
  clear(): void {
    this.#handler = undefined;
    this.#target = undefined;
  }

  /** Run the registered handler once; the slot is empty before it runs, so a re-entrant call does nothing. */
  run(): void {
    const handler = this.#handler;
    const target = this.#target;
    this.clear();
    handler?.(target);
  }
}
