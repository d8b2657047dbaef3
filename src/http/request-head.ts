/**
 * A parsed request head (request line + header section), as the parser hands it to the server and the
 * server hands it to upgrade handlers. Field names keep the case they were sent in (the lab shows what
 * went over the wire); lookups are case-insensitive (RFC 9110 §5.1).
 */
export type Field = readonly [name: string, value: string];

export type TargetForm = 'origin' | 'absolute' | 'authority' | 'asterisk';

export type BodyFraming =
  | { readonly kind: 'none' }
  | { readonly kind: 'length'; readonly length: number }
  | { readonly kind: 'chunked' };

export interface RequestHead {
  readonly method: string;
  /** The request-target exactly as sent. */
  readonly target: string;
  readonly targetForm: TargetForm;
  /** Path without the query: `/a/b` for origin and absolute form, `*` for asterisk, '' for authority. */
  readonly path: string;
  /** The query with its leading `?`, or ''. */
  readonly query: string;
  /** `2` for a request that came on an HTTP/2 stream (its fields are then lower-case, RFC 9113 §8.2.1). */
  readonly version: '1.0' | '1.1' | '2';
  /** Field lines in arrival order; values with surrounding whitespace removed (RFC 9110 §5.5). */
  readonly fields: readonly Field[];
  /** Host from the absolute-form target if present (RFC 9112 §3.2.2), else the Host field; '' in 1.0 without one. */
  readonly host: string;
  /** Whether the connection may carry another request after this one (RFC 9112 §9.3). */
  readonly keepAlive: boolean;
  /** Lower-cased tokens of every Connection field line. */
  readonly connectionTokens: readonly string[];
  /** `Expect: 100-continue` was sent. */
  readonly expectContinue: boolean;
  readonly body: BodyFraming;
  /** Combined value of a field (several lines joined with ", "), or undefined when absent. */
  get(name: string): string | undefined;
  /** Each field line's value for `name`, in order. */
  getAll(name: string): string[];
  has(name: string): boolean;
}
