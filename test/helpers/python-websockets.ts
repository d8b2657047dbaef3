/**
 * Python's `websockets` (Debian's python3-websockets, 10.4) as an independent permessage-deflate peer,
 * in either role. Both scripts wrap `PerMessageDeflate.decode`/`encode` to log every data frame as it is
 * on the wire (opcode, RSV1, FIN, payload length before inflating / after deflating), so a test can see
 * what was really compressed, and how well, without trusting our own trace.
 *
 * Every child has a deadline: the client's whole run is bounded (asyncio.wait_for and a kill), the server
 * exits when its stdin ends (stopPythonServer) or after its own lifetime, and is killed by PID after that.
 */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';

/** Debian's Python, which has python3-websockets; `python3` on PATH may be a pyenv shim without it. */
export const PYTHON = '/usr/bin/python3';

/** Installs the frame log: `LOG(ext)` is a dict {'in': [...], 'out': [...]} per extension instance. */
const FRAME_LOG = String.raw`
import websockets
from websockets import frames
from websockets.extensions import permessage_deflate as pmd

_decode, _encode = pmd.PerMessageDeflate.decode, pmd.PerMessageDeflate.encode

def LOG(ext):
    return ext.__dict__.setdefault('_switchyard_log', {'in': [], 'out': []})

def _logged_decode(self, frame, *, max_size=None):
    if frame.opcode not in frames.CTRL_OPCODES:
        LOG(self)['in'].append([frame.opcode.name, frame.rsv1, frame.fin, len(frame.data)])
    return _decode(self, frame, max_size=max_size)

def _logged_encode(self, frame):
    out = _encode(self, frame)
    if out.opcode not in frames.CTRL_OPCODES:
        LOG(self)['out'].append([out.opcode.name, out.rsv1, out.fin, len(out.data)])
    return out

pmd.PerMessageDeflate.decode = _logged_decode
pmd.PerMessageDeflate.encode = _logged_encode

def messages(log):
    """Frames grouped into messages: the first frame's opcode and RSV1, the frame count, the wire bytes."""
    out, current = [], None
    for opcode, rsv1, fin, length in log:
        if current is None:
            current = {'opcode': opcode, 'rsv1': rsv1, 'frames': 0, 'wire': 0}
        current['frames'] += 1
        current['wire'] += length
        if fin:
            out.append(current)
            current = None
    return out

def ext_params(ws):
    if not ws.extensions:
        return None
    e = ws.extensions[0]
    return {'remoteNoContextTakeover': e.remote_no_context_takeover, 'localNoContextTakeover': e.local_no_context_takeover,
            'remoteMaxWindowBits': e.remote_max_window_bits, 'localMaxWindowBits': e.local_max_window_bits}
`;

/**
 * The client: argv BASE (http://127.0.0.1:PORT) PATH MODE CASES_JSON. MODE: `default` (websockets'
 * own offer), `none` (compression=None), `strict` (an offer asking for 10-bit windows and no context
 * takeover both ways) or `bare` (`permessage-deflate` alone: no client_max_window_bits, so the server may
 * not limit the client's window), `two-offers` (first an 8-bit server window, then the default offer) or
 * `mixed` (the default offer, but messages under 64 B go uncompressed, as ws and switchyard send them).
 * CASES_JSON: [[name, 'text'|'binary', content, size]], content one of
 * 'pattern' | 'random' | 'window' | 'repeat' | 'utf8' | 'fragments' (utf8 text sent as four frames).
 * Each case is sent, its echo awaited and compared; the frames both ways are recorded. Before closing,
 * the server's /connections row of this very connection is fetched (by our local port).
 */
export const PYTHON_CLIENT = FRAME_LOG + String.raw`
import asyncio, base64, json, os, sys, urllib.request
from websockets.extensions.permessage_deflate import ClientPerMessageDeflateFactory

def pattern(size):
    text, i = '', 0
    while len(text) < size:
        text += '%06d switchyard permessage-deflate interop from python\n' % i
        i += 1
    return text[:size]

REPEATED = base64.b64encode(os.urandom(375)).decode()

def payload(kind, content, size):
    if content == 'pattern':
        text = pattern(size)
        return text if kind == 'text' else bytes((ord(c) + 128) & 255 for c in text)
    if content == 'random':
        return os.urandom(size)
    if content == 'window':
        # Three copies of one random block, 1500 characters apart: only a window > 10 bits sees the repeats.
        block = base64.b64encode(os.urandom(1125)).decode()
        return block * (size // 1500)
    if content == 'repeat':
        return REPEATED
    if content in ('utf8', 'fragments'):
        # size code points of 1-, 2-, 3- and 4-byte UTF-8 characters
        return (UTF8_UNIT * (size // len(UTF8_UNIT) + 1))[:size]
    raise ValueError(content)

UTF8_UNIT = 'h\u00e9llo w\u00f6rld \u2603 \U0001F389 '

async def main(base, path, mode, cases):
    kwargs = {}
    if mode == 'none':
        kwargs = {'compression': None}
    elif mode == 'two-offers':
        # Two offers in one header: the first asks for an 8-bit server window, the second is the default.
        kwargs = {'compression': None, 'extensions': [ClientPerMessageDeflateFactory(server_max_window_bits=8, client_max_window_bits=True),
                                                      ClientPerMessageDeflateFactory(client_max_window_bits=True)]}
    elif mode == 'mixed':
        # websockets compresses every message; ws (threshold 1024 B) and switchyard (64 B) do not. Send
        # messages under 64 B uncompressed (RSV1 clear) in a compressed session, outside the LZ77 history.
        logged = pmd.PerMessageDeflate.encode
        def encode_above_64(self, frame):
            if frame.opcode in (frames.OP_TEXT, frames.OP_BINARY) and frame.fin and len(frame.data) < 64:
                LOG(self)['out'].append([frame.opcode.name, False, True, len(frame.data)])
                return frame
            return logged(self, frame)
        pmd.PerMessageDeflate.encode = encode_above_64
    elif mode == 'bare':
        kwargs = {'compression': None, 'extensions': [ClientPerMessageDeflateFactory(client_max_window_bits=None)]}
    elif mode == 'strict':
        kwargs = {'compression': None, 'extensions': [ClientPerMessageDeflateFactory(
            server_max_window_bits=10, client_max_window_bits=10, server_no_context_takeover=True, client_no_context_takeover=True)]}
    url = base.replace('http://', 'ws://') + path
    results = []
    async with websockets.connect(url, open_timeout=10, close_timeout=5, max_size=2**22, **kwargs) as ws:
        log = LOG(ws.extensions[0]) if ws.extensions else {'in': [], 'out': []}
        for name, kind, content, size in cases:
            data = payload(kind, content, size)
            log['in'].clear(); log['out'].clear()
            if content == 'fragments':
                # One message in four frames (RFC 6455 fragmentation), compressed as one stream (RFC 7692 §6.1).
                quarter = len(data) // 4
                await ws.send([data[:quarter], data[quarter:2 * quarter], data[2 * quarter:3 * quarter], data[3 * quarter:]])
            else:
                await ws.send(data)
            echo = await asyncio.wait_for(ws.recv(), 10)
            results.append({'name': name, 'kind': kind, 'size': len(data), 'equal': echo == data, 'echoType': type(echo).__name__,
                             'sent': messages(log['out']), 'received': messages(log['in'])})
        local = ws.local_address
        loop = asyncio.get_running_loop()
        table = await loop.run_in_executor(None, lambda: json.load(urllib.request.urlopen(base + '/connections', timeout=10)))
        row = next((r for r in table['connections'] if r['remote']['port'] == local[1]), None)
        out = {'websockets': websockets.__version__, 'offered': ws.request_headers.get('Sec-WebSocket-Extensions'),
               'agreed': ws.response_headers.get('Sec-WebSocket-Extensions'), 'params': ext_params(ws),
               'local': list(local), 'results': results, 'row': row}
    out['closeCode'] = ws.close_code
    print(json.dumps(out))

asyncio.run(asyncio.wait_for(main(sys.argv[1], sys.argv[2], sys.argv[3], json.loads(sys.argv[4])), 60))
`;

/**
 * The server: argv MODE LIFETIME_S. MODE `default` (websockets' own policy: 12-bit windows), `strict`
 * (ServerPerMessageDeflateFactory with 10-bit windows and no context takeover both ways) or `client8`
 * (it answers every offer with client_max_window_bits=8). Prints
 * {"event":"listening","port":N}, then per connection, once it has closed, {"event":"closed", path, code,
 * reason, offered, agreed, params, in: messages as received (wire sizes), out: messages as sent,
 * plain: [[type, length]] of each message received}. It echoes every message.
 */
export const PYTHON_SERVER = FRAME_LOG + String.raw`
import asyncio, json, sys, threading
from websockets.extensions.permessage_deflate import ServerPerMessageDeflateFactory

async def echo(ws, path=None):
    plain = []
    try:
        async for message in ws:
            plain.append([type(message).__name__, len(message)])
            await ws.send(message)
    except websockets.ConnectionClosed:
        pass
    await ws.wait_closed()
    log = LOG(ws.extensions[0]) if ws.extensions else {'in': [], 'out': []}
    print(json.dumps({'event': 'closed', 'path': ws.path, 'code': ws.close_code, 'reason': ws.close_reason,
                      'offered': ws.request_headers.get('Sec-WebSocket-Extensions'),
                      'agreed': ws.response_headers.get('Sec-WebSocket-Extensions'), 'params': ext_params(ws),
                      'in': messages(log['in']), 'out': messages(log['out']), 'plain': plain}), flush=True)

async def main(mode, lifetime):
    kwargs = {}
    if mode == 'strict':
        kwargs = {'compression': None, 'extensions': [ServerPerMessageDeflateFactory(
            server_max_window_bits=10, client_max_window_bits=10, server_no_context_takeover=True, client_no_context_takeover=True)]}
    elif mode == 'client8':
        kwargs = {'compression': None, 'extensions': [ServerPerMessageDeflateFactory(client_max_window_bits=8)]}
    async with websockets.serve(echo, '127.0.0.1', 0, max_size=2**22, **kwargs) as server:
        print(json.dumps({'event': 'listening', 'port': server.sockets[0].getsockname()[1]}), flush=True)
        loop = asyncio.get_running_loop()
        done = asyncio.Event()
        # Until the test closes our stdin, or our own lifetime ends (a daemon thread: it never holds up the exit).
        threading.Thread(target=lambda: (sys.stdin.read(), loop.call_soon_threadsafe(done.set)), daemon=True).start()
        try:
            await asyncio.wait_for(done.wait(), lifetime)
        except asyncio.TimeoutError:
            pass

asyncio.run(main(sys.argv[1], float(sys.argv[2])))
`;

/** A message as the Python peer logged it on the wire. */
export interface WireMessage { opcode: 'TEXT' | 'BINARY'; rsv1: boolean; frames: number; wire: number }

export { runCommand, type Ran } from './run-command.js';

export interface ClosedEvent {
  event: 'closed';
  path: string;
  code: number | null;
  reason: string;
  offered: string | null;
  agreed: string | null;
  params: { remoteNoContextTakeover: boolean; localNoContextTakeover: boolean; remoteMaxWindowBits: number; localMaxWindowBits: number } | null;
  in: WireMessage[];
  out: WireMessage[];
  plain: Array<['str' | 'bytes', number]>;
}

export interface PythonServer {
  readonly child: ChildProcessWithoutNullStreams;
  readonly port: number;
  /** The `closed` record of the connection to `path`, waited for up to `ms`. */
  closed(path: string, ms?: number): Promise<ClosedEvent>;
  stderr(): string;
}

/** Start the Python echo server in `mode` and wait (up to `ms`) for its port. */
export function startPythonServer(mode: 'default' | 'strict' | 'client8', ms = 15_000, lifetimeSeconds = 300): Promise<PythonServer> {
  const child = spawn(PYTHON, ['-c', PYTHON_SERVER, mode, String(lifetimeSeconds)], { stdio: ['pipe', 'pipe', 'pipe'] });
  let stderr = '';
  let buffered = '';
  const events: Array<{ event: string; [key: string]: unknown }> = [];
  const waiters = new Set<() => void>();
  child.stderr.setEncoding('utf8').on('data', (d: string) => { stderr = (stderr + d).slice(-16_384); });
  child.stdout.setEncoding('utf8').on('data', (d: string) => {
    buffered += d;
    let newline: number;
    while ((newline = buffered.indexOf('\n')) !== -1) {
      const line = buffered.slice(0, newline);
      buffered = buffered.slice(newline + 1);
      if (line.trim()) events.push(JSON.parse(line));
    }
    for (const wake of [...waiters]) wake();
  });
  child.stdin.on('error', () => {});
  const waitFor = <T>(find: () => T | undefined, what: string, limit: number): Promise<T> => new Promise((resolve, reject) => {
    const check = (): boolean => {
      const found = find();
      if (found === undefined) return false;
      cleanup();
      resolve(found);
      return true;
    };
    const onExit = (): void => { cleanup(); reject(new Error(`the Python server exited before ${what}; stderr: ${stderr}`)); };
    const timer = setTimeout(() => { cleanup(); reject(new Error(`timed out after ${limit} ms waiting for ${what}; stderr: ${stderr}`)); }, limit);
    const wake = (): void => { check(); };
    function cleanup(): void { clearTimeout(timer); waiters.delete(wake); child.off('exit', onExit); }
    if (check()) return;
    waiters.add(wake);
    child.once('exit', onExit);
  });
  return waitFor(() => events.find((e) => e.event === 'listening'), 'its port', ms).then((listening) => ({
    child,
    port: listening.port as number,
    closed: (path: string, limit = 10_000) => waitFor(() => events.find((e) => e.event === 'closed' && e.path === path) as ClosedEvent | undefined, `the close of ${path}`, limit),
    stderr: () => stderr,
  }), async (error: Error) => { await stopPythonServer({ child }); throw error; });
}

/** End its stdin (it exits by itself), then SIGKILL by PID if it is still running 5 s later. */
export async function stopPythonServer(server: { child: ChildProcessWithoutNullStreams }): Promise<void> {
  const { child } = server;
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.stdin.end();
  const timer = setTimeout(() => { try { process.kill(child.pid!, 'SIGKILL'); } catch { /* gone meanwhile */ } }, 5_000);
  try {
    await exited;
  } finally {
    clearTimeout(timer);
  }
}
