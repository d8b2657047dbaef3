import type { Field } from '../../http/request-head.js';

/**
 * The grammar of the WebSocket handshake's header fields: tokens, comma lists, and the extension list
 * of RFC 6455 §9.1. Field values here have already had surrounding whitespace removed by the HTTP
 * parser; the list syntax (RFC 9110 §5.6.1) still allows optional whitespace around the commas and empty
 * elements, which recipients must ignore.
 */


/** One offered extension, e.g. `permessage-deflate; client_max_window_bits`. */
export interface ParsedExtension {
  readonly name: string;
  /** Parameters in order; the value is undefined for a bare parameter, unquoted for a quoted one. */
  readonly params: ReadonlyArray<readonly [name: string, value: string | undefined]>;
}

/** RFC 9110 §5.6.2: tchar = "!" / "#" / "$" / "%" / "&" / "'" / "*" / "+" / "-" / "." / "^" / "_" / "`" / "|" / "~" / DIGIT / ALPHA */
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;

export function isToken(text: string): boolean {
  return TOKEN.test(text);
}

/** The elements of a comma-separated list spread over any number of field lines, empty ones dropped. */
export function splitList(values: readonly string[]): string[] {
  const out: string[] = [];
  for (const value of values) {
    for (const element of value.split(',')) {
      const trimmed = trimOws(element);
      if (trimmed !== '') out.push(trimmed);
    }
  }
  return out;
}

/** Whether any element of the list equals `token`, ASCII case-insensitively (Upgrade, Connection). */
export function listHasToken(values: readonly string[], token: string): boolean {
  const wanted = token.toLowerCase();
  return splitList(values).some((element) => element.toLowerCase() === wanted);
}

/** All values of a field, case-insensitively by name, in order. */
export function fieldValues(fields: readonly Field[], name: string): string[] {
  const wanted = name.toLowerCase();
  const out: string[] = [];
  for (const [fieldName, value] of fields) if (fieldName.toLowerCase() === wanted) out.push(value);
  return out;
}

/**
 * Parses `Sec-WebSocket-Extensions` lines (RFC 6455 §9.1):
 *
 *     extension-list = 1#extension
 *     extension = extension-token *( ";" extension-param )
 *     extension-param = token [ "=" (token | quoted-string) ]
 *
 * "When using the quoted-string syntax variant, the value after quoted-string unescaping MUST conform
 * to the 'token' ABNF." Optional whitespace is allowed around ";" and "=" (browsers send
 * `permessage-deflate; client_max_window_bits`). Returns undefined when the syntax is broken.
 */
export function parseExtensions(values: readonly string[]): ParsedExtension[] | undefined {
  const out: ParsedExtension[] = [];
  for (const line of values) {
    const scan = new Scanner(line);
    for (;;) {
      scan.skipOws();
      if (scan.done) break;
      if (scan.eat(',')) continue; // an empty list element
      const name = scan.token();
      if (name === '') return undefined;
      const params: Array<readonly [string, string | undefined]> = [];
      scan.skipOws();
      while (scan.eat(';')) {
        scan.skipOws();
        const param = scan.token();
        if (param === '') return undefined;
        scan.skipOws();
        let value: string | undefined;
        if (scan.eat('=')) {
          scan.skipOws();
          value = scan.peek() === '"' ? scan.quotedString() : scan.token();
          if (value === undefined || !isToken(value)) return undefined;
          scan.skipOws();
        }
        params.push([param, value]);
      }
      out.push({ name, params });
      if (scan.done) break;
      if (!scan.eat(',')) return undefined;
    }
  }
  return out;
}

function trimOws(text: string): string {
  let start = 0;
  let end = text.length;
  while (start < end && (text[start] === ' ' || text[start] === '\t')) start++;
  while (end > start && (text[end - 1] === ' ' || text[end - 1] === '\t')) end--;
  return text.slice(start, end);
}

const TCHAR = /[!#$%&'*+\-.^_`|~0-9A-Za-z]/;

class Scanner {
  readonly #text: string;
  #at = 0;

  constructor(text: string) {
    this.#text = text;
  }

  get done(): boolean {
    return this.#at >= this.#text.length;
  }

  peek(): string | undefined {
    return this.#text[this.#at];
  }

  eat(char: string): boolean {
    if (this.#text[this.#at] !== char) return false;
    this.#at++;
    return true;
  }

  skipOws(): void {
    while (this.#text[this.#at] === ' ' || this.#text[this.#at] === '\t') this.#at++;
  }

  token(): string {
    const start = this.#at;
    while (this.#at < this.#text.length && TCHAR.test(this.#text[this.#at]!)) this.#at++;
    return this.#text.slice(start, this.#at);
  }

  /** RFC 9110 §5.6.4 quoted-string, unescaped; undefined when unterminated or holding a control char. */
  quotedString(): string | undefined {
    this.#at++; // the opening DQUOTE
    let out = '';
    while (this.#at < this.#text.length) {
      const char = this.#text[this.#at++]!;
      if (char === '"') return out;
      if (char === '\\') {
        if (this.#at >= this.#text.length) return undefined;
        out += this.#text[this.#at++]!;
        continue;
      }
      const code = char.charCodeAt(0);
      if (code < 0x20 ? code !== 0x09 : code === 0x7f) return undefined;
      out += char;
    }
    return undefined;
  }
}
