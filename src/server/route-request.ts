/**
 * What a plain (not upgraded) request gets, whatever carried it: an HTTP/1.1 connection or an HTTP/2
 * stream asks this one function, so both answer every route, method and error alike. It decides only;
 * writing the answer in the carrier's framing is the caller's.
 */
import type { ConnectionRecord } from '../accept-loop/connection-table.js';
import type { RequestHead } from '../http/request-head.js';
import type { HttpResponse, Router } from './router.js';

/** Methods this server knows (RFC 9110 §9). Any other token gets 501; a known one a route lacks gets 405. */
const KNOWN_METHODS = new Set(['GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'CONNECT', 'OPTIONS', 'TRACE', 'PATCH']);

export interface RoutedAnswer {
  readonly response: HttpResponse;
  /** The connection must close after this answer (HTTP/1.1; a stream ends after every answer anyway). */
  readonly close: boolean;
  /** The route handler threw or rejected: the answer is a 500, and the caller reports this. */
  readonly failure?: unknown;
}

export function routeRequest(router: Router, head: RequestHead, body: Uint8Array, connection: ConnectionRecord): RoutedAnswer | Promise<RoutedAnswer> {
  const method = head.method;
  if (!KNOWN_METHODS.has(method)) {
    return answer({ status: 501, body: `501 Not Implemented\nthis server does not implement the method ${method}\n` });
  }
  if (method === 'CONNECT') {
    // Not a proxy: refuse the tunnel in HTTP terms, then close, since a CONNECT client expects a tunnel.
    return answer({ status: 501, body: '501 Not Implemented\nthis server is not a proxy; CONNECT is refused\n' }, true);
  }
  if (head.targetForm === 'asterisk') {
    // OPTIONS * asks about the server as a whole (RFC 9110 §9.3.7).
    return answer({ status: 200, headers: [['Allow', 'GET, HEAD, POST, OPTIONS']] });
  }
  const match = router.match(method, head.path);
  switch (match.kind) {
    case 'handler': {
      let result: HttpResponse | Promise<HttpResponse>;
      try {
        result = match.handler({ head, body, connection });
      } catch (error) {
        return internalError(error);
      }
      return result instanceof Promise ? result.then(answer, internalError) : answer(result);
    }
    case 'not-found':
      return answer({ status: 404, body: `404 Not Found\n${head.path}\n` });
    case 'method-not-allowed':
      return method === 'OPTIONS'
        ? answer({ status: 204, headers: [['Allow', match.allow.join(', ')]] })
        : answer({ status: 405, headers: [['Allow', match.allow.join(', ')]], body: `405 Method Not Allowed\n${method} ${head.path}\n` });
    case 'upgrade-required':
      // RFC 9110 §15.5.22: 426 MUST carry Upgrade naming the acceptable protocols. (Over HTTP/2 the
      // caller drops Upgrade and Connection, which §8.2.2 forbids there, and keeps the body's advice.)
      return answer({
        status: 426,
        headers: [['Upgrade', match.tokens.join(', ')], ['Connection', 'Upgrade']],
        body: head.version === '2'
          // RFC 8441 §4: over HTTP/2 the way in is an extended CONNECT on a stream, not an Upgrade header.
          ? `426 Upgrade Required\n${head.path} speaks only ${match.tokens.join(', ')}; open a stream with :method CONNECT and :protocol ${match.tokens[0]} (RFC 8441)\n`
          : `426 Upgrade Required\n${head.path} speaks only ${match.tokens.join(', ')}; send Connection: Upgrade and Upgrade: ${match.tokens[0]}\n`,
      });
  }
}

const answer = (response: HttpResponse, close = false): RoutedAnswer => ({ response, close });

function internalError(failure: unknown): RoutedAnswer {
  return { response: { status: 500, body: '500 Internal Server Error\n' }, close: true, failure };
}
