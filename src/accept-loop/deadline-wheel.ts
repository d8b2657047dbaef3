/**
 * One timer for every connection's deadline, instead of a setTimeout per connection per request. A
 * keep-alive connection re-arms its deadline twice per request (header section, then idle); with a timer
 * each that is two timer-list operations per request, with this it is a field write and a Set update.
 * One interval sweeps the set every `tickMs`, so a deadline fires at most one tick late — fine for
 * timeouts measured in seconds, and the tick shrinks with the smallest configured timeout. (Node's own
 * http server checks its header/request timeouts the same way, on one shared interval.)
 */
export interface Deadline {
  /** `Date.now()` value at which `expire` is due. */
  deadlineAt: number;
  expire(now: number): void;
}

export class DeadlineWheel {
  readonly #entries = new Set<Deadline>();
  readonly #tickMs: number;
  #timer: NodeJS.Timeout | undefined;

  constructor(tickMs: number) {
    this.#tickMs = Math.max(1, Math.floor(tickMs));
  }

  /** A tick that keeps lateness under a fifth of the smallest timeout, between 10 ms and 1 s. */
  static forTimeouts(...timeoutsMs: number[]): DeadlineWheel {
    const smallest = Math.min(...timeoutsMs.filter((ms) => ms > 0));
    return new DeadlineWheel(Math.min(1_000, Math.max(10, Number.isFinite(smallest) ? smallest / 5 : 1_000)));
  }

  get size(): number { return this.#entries.size; }

  /** Arm (or re-arm: the entry's `deadlineAt` is read at each tick) an entry. */
  add(entry: Deadline): void {
    this.#entries.add(entry);
    if (this.#timer === undefined) {
      this.#timer = setInterval(() => this.#sweep(), this.#tickMs);
      this.#timer.unref();
    }
  }

  delete(entry: Deadline): void {
    this.#entries.delete(entry);
  }

  stop(): void {
    if (this.#timer !== undefined) clearInterval(this.#timer);
    this.#timer = undefined;
    this.#entries.clear();
  }

  #sweep(): void {
    if (this.#entries.size === 0) {
      clearInterval(this.#timer);
      this.#timer = undefined;
      return;
    }
    const now = Date.now();
    for (const entry of this.#entries) {
      if (entry.deadlineAt <= now) {
        this.#entries.delete(entry);
        entry.expire(now);
      }
    }
  }
}
