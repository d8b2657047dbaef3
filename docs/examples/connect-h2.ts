// docs/examples/connect-h2.ts — any plugin's token over HTTP/2: one extended CONNECT stream (RFC 8441).
// Run it: node connect-h2.js http://127.0.0.1:8080/ shout/1     (compiled with tsc; node: modules only)
import { connect, type ClientHttp2Session, type ClientHttp2Stream } from 'node:http2';
import { pathToFileURL } from 'node:url';

/** One HTTP/2 connection to `url`'s origin, once the server's SETTINGS allow extended CONNECT. */
export async function openSession(url: string): Promise<ClientHttp2Session> {
  // http: HTTP/2 with prior knowledge (RFC 9113 §3.3); https: TLS with ALPN h2 (§3.2).
  const session = connect(new URL(url).origin);
  await new Promise<void>((resolve, reject) => session.once('remoteSettings', () => resolve()).once('error', reject));
  // RFC 8441 §3: a client may send :protocol only after the server's SETTINGS_ENABLE_CONNECT_PROTOCOL = 1.
  if (session.remoteSettings.enableConnectProtocol !== true) throw new Error('the server does not enable extended CONNECT');
  return session;
}

/** A stream of `session` that speaks `token` on `url`'s path; resolves once the server answered `:status 200`. */
export async function openProtocolStream(session: ClientHttp2Session, url: string, token: string): Promise<ClientHttp2Stream> {
  const target = new URL(url);
  // RFC 8441 §4: the HTTP/1.1 request `GET path` with `Upgrade: token` becomes these pseudo-headers.
  const stream = session.request({
    ':method': 'CONNECT', ':protocol': token, ':scheme': target.protocol.slice(0, -1),
    ':path': target.pathname + target.search, ':authority': target.host,
  }, { endStream: false });
  const status = await new Promise<number>((resolve, reject) => {
    stream.once('response', (headers) => resolve(Number(headers[':status']))).once('error', reject);
  });
  // 200 is HTTP/2's "switched" (it has no 101); any other status refused this stream, not the connection.
  if (status !== 200) { stream.destroy(); throw new Error(`${token} refused with :status ${status}`); }
  return stream;
}

// As a script: stdin to the stream, the stream to stdout; at the end of stdin, END_STREAM (a half-close).
if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const [url = 'http://127.0.0.1:8080/', token = 'echo'] = process.argv.slice(2);
  const session = await openSession(url);
  const stream = await openProtocolStream(session, url, token);
  process.stdin.pipe(stream);
  stream.pipe(process.stdout);
  stream.on('close', () => session.close());   // this stream is done, and it was this client's only one
}
