/**
 * Protocol errors as values. Every way a peer can break a protocol has a stable `code` string (for logs,
 * tests and users' `switch` statements), the HTTP status to answer with while the connection still speaks
 * HTTP, and the WebSocket close code to use after a 101. Parsers return these; they never throw them for
 * anything a peer sent. Once a parser has produced one, it is sticky: every later call returns the same.
 */
export class ProtocolError extends Error {
  readonly code: string;
  /** HTTP status to answer with before the switch (400 when unsure). */
  readonly status: number;
  /** WebSocket close code to use after the switch (1002 when unsure). */
  readonly closeCode: number;
  /** Extra response headers, e.g. `Allow` for 405 or `Sec-WebSocket-Version` for 426. */
  readonly headers: ReadonlyArray<readonly [string, string]>;

  constructor(
    code: string,
    message: string,
    options: { status?: number; closeCode?: number; headers?: ReadonlyArray<readonly [string, string]> } = {},
  ) {
    super(message);
    this.name = 'ProtocolError';
    this.code = code;
    this.status = options.status ?? 400;
    this.closeCode = options.closeCode ?? 1002;
    this.headers = options.headers ?? [];
  }
}

/** An API misuse by local code (not the peer): thrown, because it is a bug to fix, not input to answer. */
export class UsageError extends Error {
  readonly code: string;
  constructor(code: string, message: string) {
    super(message);
    this.name = 'UsageError';
    this.code = code;
  }
}
