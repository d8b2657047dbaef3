import { connect, type ClientHttp2Session, type ClientHttp2Stream } from 'node:http2';

/** Every wait of an HTTP/2 test is bounded; only a hang should ever reach it. */
export const WAIT_MS = 3_000;

export function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout;
  return Promise.race([promise, new Promise<never>((_, reject) => { timer = setTimeout(() => reject(new Error(`timed out: ${what}`)), ms); })])
    .finally(() => clearTimeout(timer));
}

/** A cleartext (prior knowledge) session to 127.0.0.1:`port`, once the server's SETTINGS have arrived. */
export async function session(port: number): Promise<ClientHttp2Session> {
  const client = connect(`http://127.0.0.1:${port}`);
  client.on('error', () => {});
  await within(new Promise<void>((resolve) => client.once('remoteSettings', () => resolve())), WAIT_MS, 'server SETTINGS');
  return client;
}

export function status(stream: ClientHttp2Stream): Promise<number> {
  return within(new Promise((resolve, reject) => {
    stream.once('response', (headers) => resolve(Number(headers[':status'])));
    stream.once('error', reject);
  }), WAIT_MS, ':status');
}

/** The stream's body as text, up to its END_STREAM. */
export function body(stream: ClientHttp2Stream): Promise<string> {
  return within(new Promise((resolve, reject) => {
    let text = '';
    stream.setEncoding('utf8');
    stream.on('data', (chunk: string) => { text += chunk; });
    stream.once('end', () => resolve(text));
    stream.once('error', reject);
  }), WAIT_MS, 'body');
}
