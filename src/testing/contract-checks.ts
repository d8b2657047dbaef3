/**
 * The contract checks: the bugs this field is known for, each looked for on real sockets the way a
 * linter looks for a known mistake. Each check starts a private server of its own with the plugin (a
 * fresh copy when given a factory), drives it as a client would, and returns `{ name, ok, detail }`,
 * where `detail` says what was seen. Every wait has a timeout: a check never hangs, whatever the plugin
 * does. Names are stable (docs/plugins.md, "The contract checks").
 *
 * Where a check needs the plugin to fail (a throwing `handshake` or `takeover`), the kit wraps the
 * plugin's handler and injects the throw after the plugin's own code ran: the loop's guarantee is that
 * the throw costs one connection; the plugin's part is not to leave shared state behind that breaks the
 * connections it still has and the ones that come next.
 */
import type { HandshakeDecision, ProtocolHandler } from '../registry/plugin.js';
import { type CheckOptions, nonce, type ResolvedCheckOptions, resolveCheckOptions } from './check-options.js';
import { describeError, guardProcess } from './crash-guard.js';
import { type PrivateServer, startPrivateServer } from './private-server.js';
import { openUpgraded, type UpgradedConnection, type UpgradeRequestOptions } from './upgraded-connection.js';

export const CheckName = {
  Handshake101: 'handshake-101',
  EarlyBytes: 'early-bytes',
  SlowReaderBounded: 'slow-reader-bounded',
  ClientCloseReleases: 'client-close-releases',
  ShutdownEnds: 'shutdown-ends',
  HandshakeThrowIsolated: 'handshake-throw-isolated',
  TakeoverThrowIsolated: 'takeover-throw-isolated',
  Decline: 'decline',
  Reject: 'reject',
} as const;
export type CheckName = (typeof CheckName)[keyof typeof CheckName];

export interface CheckResult {
  readonly name: CheckName;
  readonly ok: boolean;
  /** Not run: the options did not say how (a `decline` without a request to decline) or asked to skip it. */
  readonly skipped?: boolean;
  /** What was seen: for a FAIL, what went wrong and usually how to fix it. */
  readonly detail: string;
}

/** A handler, or a function that makes a fresh one (each check then gets its own, and closes it). */
export type PluginUnderTest = ProtocolHandler<any> | (() => ProtocolHandler<any> | Promise<ProtocolHandler<any>>);

export type ContractCheck = (plugin: PluginUnderTest, options?: CheckOptions) => Promise<CheckResult>;

class Failure extends Error {}
const fail = (detail: string): never => { throw new Failure(detail); };

interface Run {
  readonly o: ResolvedCheckOptions;
  readonly ps: PrivateServer;
  readonly handler: ProtocolHandler<any>;
  /** What the plugin's own `handshake` returned, in order. */
  readonly decisions: HandshakeDecision[];
  /** How many times the plugin's `takeover` was called. */
  takeovers: number;
  readonly opened: UpgradedConnection[];
}

type Wrap = (handler: ProtocolHandler<any>, run: Run) => ProtocolHandler<any>;

/** Run `body` against a private server with the plugin, collecting what the plugin decided. */
function defineCheck(name: CheckName, body: (run: Run) => Promise<string>, setup: { wrap?: Wrap; needs?: (o: ResolvedCheckOptions, h: ProtocolHandler<any>) => string | undefined } = {}): ContractCheck {
  return async (plugin, options = {}) => {
    const fresh = typeof plugin === 'function';
    let real: ProtocolHandler<any>;
    try {
      real = fresh ? await plugin() : plugin;
    } catch (error) {
      return { name, ok: false, detail: `the plugin could not be made: ${describeError(error)}` };
    }
    const o = resolveCheckOptions(real.token, options);
    const unmet = o.skip.has(name) ? 'skipped as asked' : setup.needs?.(o, real);
    if (unmet !== undefined) {
      if (fresh) await Promise.resolve(real.close?.()).catch(() => {});
      return { name, ok: true, skipped: true, detail: unmet };
    }
    const guard = guardProcess();
    const partial = { o, decisions: [] as HandshakeDecision[], takeovers: 0, opened: [] as UpgradedConnection[] };
    const observed = observe(real, partial);
    let ps: PrivateServer | undefined;
    try {
      ps = await startPrivateServer([], { limits: { shutdownTimeoutMs: o.drainMs, handshakeTimeoutMs: o.timeoutMs, ...o.limits } });
      const run: Run = Object.assign(partial, { ps, handler: observed });
      // `observed` has no `close`: the plugin's close is its owner's to call, once, not each check server's.
      ps.server.registry.register(setup.wrap ? setup.wrap(observed, run) : observed);
      const detail = await body(run);
      if (guard.errors.length > 0) return { name, ok: false, detail: `${detail}; but the plugin threw outside any connection: ${describeError(guard.errors[0])}` };
      return { name, ok: true, detail };
    } catch (error) {
      const thrown = guard.errors.length > 0 ? `; the plugin threw outside any connection: ${describeError(guard.errors[0])}` : '';
      return { name, ok: false, detail: (error instanceof Failure ? error.message : `the check itself failed: ${describeError(error)}`) + thrown };
    } finally {
      for (const connection of partial.opened) connection.destroy();
      await ps?.close().catch(() => {});
      if (fresh) await Promise.resolve(real.close?.()).catch(() => {});
      // Errors from the teardown still belong to this check's plugin: give them a tick to arrive.
      await new Promise((resolve) => setImmediate(resolve));
      guard.release();
    }
  };
}

/** The plugin's handler, recording its decisions and takeovers. */
function observe(handler: ProtocolHandler<any>, run: { decisions: HandshakeDecision[]; takeovers: number }): ProtocolHandler<any> {
  const observed: ProtocolHandler<any> = {
    token: handler.token,
    takeover(ctx) { run.takeovers++; return handler.takeover(ctx); },
  };
  if (handler.managesSocket !== undefined) Object.assign(observed, { managesSocket: handler.managesSocket });
  if (handler.description !== undefined) Object.assign(observed, { description: handler.description });
  if (handler.handshake) {
    const handshake = handler.handshake.bind(handler);
    observed.handshake = (ctx) => {
      const decision = handshake(ctx);
      if (isThenable(decision)) return Promise.resolve(decision).then((d) => { run.decisions.push(d); return d; });
      run.decisions.push(decision);
      return decision;
    };
  }
  return observed;
}

const isThenable = (value: unknown): value is PromiseLike<unknown> => typeof (value as { then?: unknown } | null)?.then === 'function';

async function open(run: Run, options: { early?: Uint8Array; request?: UpgradeRequestOptions } = {}): Promise<UpgradedConnection> {
  const { o, ps } = run;
  const request = options.request ?? o.request;
  let connection: UpgradedConnection;
  try {
    connection = await openUpgraded(ps.port, o.token, { ...request, ...(options.early ? { early: options.early } : {}), timeoutMs: o.timeoutMs });
  } catch (error) {
    return fail(`offering Upgrade: ${o.token}, no response came: ${describeError(error)}`);
  }
  run.opened.push(connection);
  return connection;
}

/** Open a connection that must be switched (101). */
async function openSwitched(run: Run, what: string, early?: Uint8Array): Promise<UpgradedConnection> {
  const connection = await open(run, early ? { early } : {});
  const status = connection.response!.status;
  if (status !== 101) fail(`${what}: the server answered ${status}, not 101 (see handshake-101)`);
  return connection;
}

/** Whether an answer containing `text` shows on `on`, from `from` on, within the timeout. */
async function answered(on: UpgradedConnection, text: string, ms: number, from: number): Promise<boolean> {
  try {
    await on.waitFor(() => on.body.subarray(from).includes(text), ms, 'the answer');
    return true;
  } catch {
    return false;
  }
}

/**
 * A connection that still works: a message sent on `sender` is answered (on `sender`, or on `observer`
 * for a protocol that answers on the others' connections). Returns what went wrong, or undefined.
 */
async function stillWorks(run: Run, sender: UpgradedConnection, observer: UpgradedConnection | undefined): Promise<string | undefined> {
  const id = nonce();
  const on = run.o.answeredOn === 'others' ? observer : sender;
  if (on === undefined) return undefined;
  const from = on.body.length;
  if (sender.closed || sender.ended) return 'it was closed';
  sender.write(run.o.message(id));
  return (await answered(on, id, run.o.timeoutMs, from)) ? undefined : `a message sent on it got no answer within ${run.o.timeoutMs} ms`;
}

/** Two switched connections when the protocol answers on the others' connections, else one. */
async function openWorking(run: Run, what: string): Promise<[UpgradedConnection, UpgradedConnection | undefined]> {
  const first = await openSwitched(run, what);
  const second = run.o.answeredOn === 'others' ? await openSwitched(run, `${what} (its partner)`) : undefined;
  const broken = await stillWorks(run, first, second);
  if (broken !== undefined) fail(`${what}: ${broken}; tell the checks how to talk to your protocol (CheckOptions.exchange, or export const contract)`);
  return [first, second];
}

const until = async (predicate: () => boolean, ms: number): Promise<boolean> => {
  const deadline = Date.now() + ms;
  while (!predicate()) {
    if (Date.now() > deadline) return false;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  return true;
};

const kib = (bytes: number): string => (bytes >= 1024 * 1024 ? `${(bytes / 1024 / 1024).toFixed(1)} MiB` : `${Math.round(bytes / 1024)} KiB`);

// ---------------------------------------------------------------------------------------------------------

/** The handshake answers `101` with `Connection: Upgrade` and one `Upgrade` field naming the token offered. */
export const checkHandshake101 = defineCheck(CheckName.Handshake101, async (run) => {
  const connection = await open(run);
  const { status, headers } = connection.response!;
  if (status !== 101) {
    const decided = run.decisions.at(-1);
    fail(`offering Upgrade: ${run.o.token} got ${status}, not 101${decided ? ` (handshake returned ${JSON.stringify(decided)})` : ''}`);
  }
  const upgrade = headers['upgrade'];
  if (upgrade?.toLowerCase() !== run.o.token.toLowerCase()) fail(`the 101 says Upgrade: ${upgrade ?? '(none)'}; it must be exactly the token offered, ${run.o.token} (do not add your own Upgrade field)`);
  if (!(headers['connection'] ?? '').toLowerCase().split(/\s*,\s*/).includes('upgrade')) fail(`the 101 says Connection: ${headers['connection'] ?? '(none)'}; it must include "upgrade"`);
  return `101 Switching Protocols, Upgrade: ${upgrade}`;
});

/** Bytes sent in the same write as the request (`ctx.head`) reach the protocol: the lossless handover. */
export const checkEarlyBytes = defineCheck(CheckName.EarlyBytes, async (run) => {
  const { o } = run;
  const observer = o.answeredOn === 'others' ? await openSwitched(run, 'the observing connection') : undefined;
  const id = nonce();
  const sender = await openSwitched(run, 'with the first message in the same write', o.message(id));
  if (await answered(observer ?? sender, id, o.timeoutMs, 0)) return 'a message sent in the same write as the request was answered';
  // Lost, or is the protocol never answering this message? Ask again, after the 101.
  const control = await openSwitched(run, 'the control connection');
  const later = nonce();
  const from = (observer ?? control).body.length;
  control.write(o.message(later));
  if (await answered(observer ?? control, later, o.timeoutMs, from)) {
    return fail(`a message sent in the same write as the request got no answer within ${o.timeoutMs} ms, while the same message sent after the 101 did: the bytes in ctx.head were lost (handle ctx.head before reading the socket)`);
  }
  return fail(`no message got an answer, not even one sent after the 101; tell the checks how to talk to your protocol (CheckOptions.exchange, or export const contract)`);
});

/** A client that sends without reading does not make the server buffer without bound. */
export const checkSlowReaderBounded = defineCheck(CheckName.SlowReaderBounded, async (run) => {
  const { o, ps } = run;
  const client = await openSwitched(run, 'the slow reader');
  const serverSocket = ps.serverSocketOf(client.localPort);
  if (serverSocket === undefined) return fail('the server holds no connection for the client right after the 101');
  client.socket.pause(); // never read again
  const unit = o.message(nonce());
  const chunk = Buffer.concat(Array.from({ length: Math.max(1, Math.ceil(65_536 / unit.length)) }, () => unit));
  let sent = 0;
  let peak = 0;
  const held = (): number => (serverSocket.destroyed ? 0 : serverSocket.writableLength + serverSocket.readableLength);
  let stalled = false;
  const gone = (): boolean => client.closed || client.ended || serverSocket.destroyed;
  while (sent < o.slowReaderSendBytes && !gone()) {
    const more = client.write(chunk);
    sent += chunk.length;
    // The server runs in this process: let it read and write before the next chunk.
    await new Promise((resolve) => setImmediate(resolve));
    peak = Math.max(peak, held());
    if (peak > o.slowReaderBoundBytes) break;
    if (!more) {
      // Our writes back up: has the server stopped reading (it respects backpressure), or is it just behind?
      const before = serverSocket.bytesRead;
      const drained = await new Promise<boolean>((resolve) => {
        const timer = setTimeout(() => { client.socket.off('drain', onDrain); resolve(false); }, 500);
        const onDrain = (): void => { clearTimeout(timer); resolve(true); };
        client.socket.once('drain', onDrain);
      });
      peak = Math.max(peak, held());
      if (!drained && serverSocket.bytesRead === before) { stalled = true; break; }
    }
  }
  for (let i = 0; i < 5 && peak <= o.slowReaderBoundBytes; i++) {
    await new Promise((resolve) => setTimeout(resolve, 40));
    peak = Math.max(peak, held());
  }
  if (peak > o.slowReaderBoundBytes) {
    return fail(`after ${kib(sent)} sent by a client that never reads, the server held ${kib(peak)} for it in its socket's buffers, over the bound of ${kib(o.slowReaderBoundBytes)}: pause reading when socket.write() returns false, resume on 'drain'`);
  }
  const how = gone() ? 'then closed the connection' : stalled ? 'then stopped reading' : 'and kept up';
  return `a client sent ${kib(sent)} without reading; the server's socket buffers held at most ${kib(peak)} for it, ${how}`;
});

/** When the client goes away (its FIN), the server ends its side: no row is left in the table. */
export const checkClientCloseReleases = defineCheck(CheckName.ClientCloseReleases, async (run) => {
  const { o, ps } = run;
  const [client, partner] = await openWorking(run, 'before closing');
  partner?.end();
  const port = client.localPort;
  client.end();
  const released = await until(() => ps.serverSocketOf(port) === undefined, o.timeoutMs);
  if (!released) return fail(`the client sent its FIN and read nothing more; ${o.timeoutMs} ms later the server still held the connection (its row is in the table): end the socket on 'end' (socket.on('end', () => socket.end()))`);
  return `the client's FIN was answered and the connection left the table`;
});

/** The server closing (shutdown) ends the connection within the drain time, without the deadline's destroy. */
export const checkShutdownEnds = defineCheck(CheckName.ShutdownEnds, async (run) => {
  const { o, ps } = run;
  const [client] = await openWorking(run, 'before shutdown');
  const from = client.body.length;
  const closing = ps.close();
  const ended = await client.waitForEnd(o.drainMs + 1_000);
  await closing;
  const forced = ps.events.some((e) => e.type === 'shutdown' && e.phase.startsWith('deadline passed'));
  if (forced || !ended) return fail(`the server shut down with a drain time of ${o.drainMs} ms and had to destroy the connection when it passed: on ctx.signal's 'abort' (or through ctx.hooks.onShutdown) say goodbye and end the socket`);
  const goodbye = client.body.subarray(from).toString('latin1');
  return `the connection ended within the drain time${goodbye.length > 0 ? `, after ${JSON.stringify(goodbye.length > 60 ? `${goodbye.slice(0, 60)}…` : goodbye)}` : ''}`;
});

/** Shared by the two throw checks: a connection in progress, a failed one, a new one. */
async function isolation(run: Run, arm: () => void, failedOne: (c: UpgradedConnection) => Promise<string | undefined>, what: string): Promise<string> {
  const { o, ps } = run;
  const [first, partner] = await openWorking(run, 'the connection opened first');
  arm();
  const failing = await open(run);
  const problem = await failedOne(failing);
  if (problem !== undefined) fail(problem);
  const gone = await until(() => ps.serverSocketOf(failing.localPort) === undefined, o.timeoutMs);
  if (!gone) fail(`after the ${what} threw, its connection was still held ${o.timeoutMs} ms later`);
  const broken = await stillWorks(run, first, partner);
  if (broken !== undefined) fail(`after another connection's ${what} threw, the connection opened before it no longer works: ${broken}`);
  const next = await open(run);
  if (next.response!.status !== 101) fail(`after a ${what} threw, a new connection got ${next.response!.status}, not 101`);
  const nextBroken = await stillWorks(run, next, first);
  if (nextBroken !== undefined) fail(`after a ${what} threw, a new connection was switched but ${nextBroken}`);
  return `a ${what} that threw cost only its own connection: the one before it and the next one both work`;
}

const injected = (where: string): Error => new Error(`switchyard check: a failure injected in ${where}`);

/** A `handshake` that throws (after the plugin's own handshake ran) costs only its own request. */
export const checkHandshakeThrowIsolated = defineCheck(CheckName.HandshakeThrowIsolated, async (run) => {
  return isolation(run, () => { armed.set(run, true); }, async (failing) => {
    const { status } = failing.response!;
    if (status !== 500) return `the handshake that threw got ${status}, not 500`;
    return undefined;
  }, 'handshake');
}, {
  wrap: (handler, run) => {
    const own = handler.handshake?.bind(handler);
    return {
      ...handler,
      takeover: handler.takeover.bind(handler),
      async handshake(ctx) {
        const decision = own ? await own(ctx) : { action: 'accept' as const };
        if (armed.get(run) === true) { armed.set(run, false); throw injected('handshake'); }
        return decision;
      },
    };
  },
});

/** A `takeover` that throws (after the plugin's own takeover ran) costs only its own connection. */
export const checkTakeoverThrowIsolated = defineCheck(CheckName.TakeoverThrowIsolated, async (run) => {
  return isolation(run, () => { armed.set(run, true); }, async (failing) => {
    const { status } = failing.response!;
    if (status !== 101) return `the connection whose takeover was to throw got ${status}, not 101`;
    if (!(await failing.waitForEnd(run.o.timeoutMs))) return `the takeover threw but its connection was not closed within ${run.o.timeoutMs} ms`;
    return undefined;
  }, 'takeover');
}, {
  wrap: (handler, run) => ({
    ...handler,
    ...(handler.handshake ? { handshake: handler.handshake.bind(handler) } : {}),
    takeover(ctx) {
      const outcome = handler.takeover(ctx);
      if (armed.get(run) === true) {
        armed.set(run, false);
        if (isThenable(outcome)) outcome.then(undefined, () => {});
        throw injected('takeover');
      }
      return outcome;
    },
  }),
});

const armed = new WeakMap<object, boolean>();

const refusalNeeds = (key: 'decline' | 'reject') => (o: ResolvedCheckOptions, handler: ProtocolHandler<any>): string | undefined => {
  if (o[key] !== undefined) return undefined;
  return handler.handshake === undefined
    ? `not exercised: the plugin has no handshake, so it accepts every offer`
    : `not exercised: say which request the plugin ${key}s (CheckOptions.${key}, or export const contract = { ${key}: { path, headers } })`;
};

/** A request the plugin declines gets plain HTTP (no 101, no takeover), and the connection stays HTTP. */
export const checkDecline = defineCheck(CheckName.Decline, async (run) => {
  const connection = await open(run, { request: run.o.decline! });
  const decided = run.decisions.at(-1);
  const { status } = connection.response!;
  if (status === 101 || run.takeovers > 0) fail(`the request to decline was switched (101) and taken over${decided ? `: handshake returned ${JSON.stringify(decided)}` : ''} (a forgotten "return decline()"?)`);
  if (decided?.action !== 'decline') fail(`the handshake returned ${JSON.stringify(decided)}, not { action: 'decline' }, and the client got ${status}`);
  const from = connection.body.length;
  connection.write('GET /healthz HTTP/1.1\r\nHost: switchyard.test\r\n\r\n');
  try {
    await connection.waitFor(() => connection.body.subarray(from).includes('HTTP/1.1 200 '), run.o.timeoutMs, 'a plain HTTP answer');
  } catch {
    fail(`after the decline (${status}), the same connection did not serve a plain request`);
  }
  return `declined: the client got plain HTTP (${status}) and the connection kept serving HTTP`;
}, { needs: refusalNeeds('decline') });

/** A request the plugin rejects gets that status (4xx/5xx), no takeover, and the connection closes. */
export const checkReject = defineCheck(CheckName.Reject, async (run) => {
  const spec = run.o.reject!;
  const connection = await open(run, { request: spec });
  const decided = run.decisions.at(-1);
  const { status } = connection.response!;
  if (status === 101 || run.takeovers > 0) fail(`the request to reject was switched (101) and taken over${decided ? `: handshake returned ${JSON.stringify(decided)}` : ''} (a forgotten "return reject(...)"?)`);
  if (decided?.action !== 'reject') fail(`the handshake returned ${JSON.stringify(decided)}, not a reject, and the client got ${status}`);
  if (spec.status !== undefined ? status !== spec.status : status < 400 || status > 599) {
    fail(`rejected with ${status}; expected ${spec.status ?? 'a 4xx or 5xx status'}`);
  }
  if (!(await connection.waitForEnd(run.o.timeoutMs))) fail(`rejected with ${status} but the connection stayed open ${run.o.timeoutMs} ms`);
  return `rejected with ${status}, then the connection closed`;
}, { needs: refusalNeeds('reject') });

/** Every check, in the order they are run and printed. */
export const CONTRACT_CHECKS: ReadonlyArray<{ readonly name: CheckName; readonly run: ContractCheck }> = [
  { name: CheckName.Handshake101, run: checkHandshake101 },
  { name: CheckName.EarlyBytes, run: checkEarlyBytes },
  { name: CheckName.SlowReaderBounded, run: checkSlowReaderBounded },
  { name: CheckName.ClientCloseReleases, run: checkClientCloseReleases },
  { name: CheckName.ShutdownEnds, run: checkShutdownEnds },
  { name: CheckName.HandshakeThrowIsolated, run: checkHandshakeThrowIsolated },
  { name: CheckName.TakeoverThrowIsolated, run: checkTakeoverThrowIsolated },
  { name: CheckName.Decline, run: checkDecline },
  { name: CheckName.Reject, run: checkReject },
];

/** Run every check (one after another, each on its own server); the plugin's `close` runs once at the end when it is one handler. */
export async function runContractChecks(plugin: PluginUnderTest, options: CheckOptions = {}): Promise<CheckResult[]> {
  const results: CheckResult[] = [];
  for (const check of CONTRACT_CHECKS) results.push(await check.run(plugin, options));
  if (typeof plugin !== 'function') await Promise.resolve(plugin.close?.()).catch(() => {});
  return results;
}

/** `ok    early-bytes  a message sent …` — one line per check, as `check-plugin` prints them. */
export function formatCheckLine(result: CheckResult): string {
  const mark = result.skipped ? 'skip' : result.ok ? 'ok' : 'FAIL';
  return `${mark.padEnd(4)}  ${result.name.padEnd(24)}  ${result.detail}`;
}
