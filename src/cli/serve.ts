import { createPrivateKey, type KeyObject, X509Certificate } from 'node:crypto';
import { closeSync, openSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import cluster from 'node:cluster';
import { parseArgs } from 'node:util';
import { runPrimary } from '../accept-loop/cluster-primary.js';
import { ClusterWorker } from '../accept-loop/cluster-worker.js';
import { ClusterBroker } from '../registry/broker/cluster-broker.js';
import { RedisBroker } from '../registry/broker/redis-broker.js';
import { parseRedisUrl } from '../registry/broker/redis-url.js';
import { parseTrustedProxies } from '../accept-loop/trusted-proxies.js';
import type { RoomBroker } from '../registry/broker/room-broker.js';
import { UsageError } from '../errors.js';
import { DEFAULT_LIMITS, type Limits, resolveLimits } from '../limits.js';
import { startLab } from '../lab.js';
import { type LoadedPlugin, loadPlugins, PluginErrorCode, pluginName, readPluginConfig } from '../plugins/load-plugin.js';
import { mergePluginOptions, type PluginOptions } from '../plugins/plugin-options.js';
import { watchPlugins } from '../plugins/plugin-watcher.js';
import { createSelfSignedCertificate } from '../accept-loop/tls/self-signed-certificate.js';
import type { ExperimentalOptions } from '../protocols/experimental.js';
import { parseTunnelSpec, type TunnelTarget } from '../protocols/tcp-tunnel/targets.js';
import { formatTraceLine } from '../server/trace.js';
import { CliError, parsePort } from './cli-error.js';

export const SERVE_HELP = `switchyard serve [options]

Serve plain HTTP and every registered Upgrade protocol on one TCP port.

Options:
  --host HOST              address to listen on (default 127.0.0.1)
  --port PORT              port to listen on; 0 picks a free one (default $PORT or 8080)
  --trace                  print one line per accept/request/upgrade/close on stderr, with its 5-tuple
  --backlog N              length of the kernel's queue of accepted-but-not-yet-accept()ed connections
  --limit NAME=VALUE       override one limit, e.g. --limit maxConnections=100 --limit headersTimeoutMs=5000;
                           repeatable; names and defaults: docs/reliability.md
  --plugin FILE            load an Upgrade protocol from an ES module whose default export is a handler
                           or a factory (options) => handler; repeatable (docs/plugins.md)
  --plugin-option N.K=V    option K for plugin N (its file name without extension); V is JSON if it
                           parses as JSON, else text; repeatable; wins over --plugin-config
  --plugin-config FILE     JSON file of plugin options: {"<plugin name>": {"<option>": <value>}}
  --watch                  reload each --plugin file when it changes: new connections get the new version,
                           open ones keep theirs; a version that fails to load keeps the old one (stderr says why)
  --tunnel NAME=HOST:PORT  offer Upgrade: tcp on /tunnel/NAME, piped to HOST:PORT; repeatable. Clients
                           choose only among these names, never an address
  --tls-cert FILE          PEM certificate (chain): the same port then serves TLS beside cleartext
                           (https://, wss://; the first byte of each connection decides) and the in-band
                           TLS/1.0 upgrade (RFC 2817); needs --tls-key
  --tls-key FILE           PEM private key for --tls-cert
  --tls-self-signed        make a fresh key and a self-signed certificate for localhost, 127.0.0.1 and ::1
                           at start (valid 7 days, nothing written unless asked); prints its SHA-256
  --tls-export-cert FILE   with --tls-self-signed: write its certificate (PEM) there, for clients to trust
                           (curl --cacert FILE https://localhost:8080/)
  --workers N              run N worker processes (0: one per core) that all accept on the one port, with
                           node:cluster: the primary hands out connections; /connections and
                           /_lab/workers answer for every worker, and the chat room spans them
  --broker redis://HOST:PORT[/DB]
                           share the chat room (WebSocket /chat and lab-chat/1) with every instance using the
                           same Redis (pub/sub); Redis down: local delivery goes on, remote messages are
                           counted as dropped (/_lab/broker, the dashboard); it reconnects by itself
  --proxy-protocol         connections from --trust-proxy addresses must begin with a PROXY protocol header
                           (v1 or v2, HAProxy's specification); rows then show the client, the proxy as hop
  --trust-proxy LIST       ADDR[/PREFIX],... of the proxies in front: their PROXY headers (with
                           --proxy-protocol) and their Forwarded / X-Forwarded-For fields are believed;
                           nobody else's are (docs/deploy.md)
  --pcap FILE              write every connection's bytes, both ways, to FILE as pcapng (Wireshark, tshark):
                           synthesized IPv4/IPv6 + TCP on each connection's real 5-tuple, real timestamps;
                           TLS connections as their decrypted bytes; with --workers, one file per worker
                           (FILE's name + .worker-N)
  --pcap-max-bytes SIZE    stop the capture at SIZE bytes (e.g. 1048576, 512k, 10m); it ends with a comment
                           block saying so (default: no cap)
  --tls-keylog FILE        append each TLS session's secrets to FILE (NSS key log format, what SSLKEYLOGFILE
                           holds), so Wireshark can decrypt a tcpdump of the real traffic
  -h, --help               show this help

Exit codes: 0 success, 1 runtime failure (port busy, a plugin failed to load or start),
2 usage error (bad flag, missing or invalid plugin file, bad option).
`;

export async function serve(argv: string[], env: NodeJS.ProcessEnv): Promise<void> {
  const { values } = parseArgs({
    args: argv,
    options: {
      host: { type: 'string', default: '127.0.0.1' },
      port: { type: 'string' },
      trace: { type: 'boolean', default: false },
      backlog: { type: 'string' },
      limit: { type: 'string', multiple: true, default: [] },
      plugin: { type: 'string', multiple: true, default: [] },
      'plugin-option': { type: 'string', multiple: true, default: [] },
      'plugin-config': { type: 'string' },
      watch: { type: 'boolean', default: false },
      tunnel: { type: 'string', multiple: true, default: [] },
      'tls-cert': { type: 'string' },
      'tls-key': { type: 'string' },
      'tls-self-signed': { type: 'boolean', default: false },
      'tls-export-cert': { type: 'string' },
      workers: { type: 'string' },
      broker: { type: 'string' },
      'proxy-protocol': { type: 'boolean', default: false },
      'trust-proxy': { type: 'string' },
      pcap: { type: 'string' },
      'pcap-max-bytes': { type: 'string' },
      'tls-keylog': { type: 'string' },
      help: { type: 'boolean', short: 'h', default: false },
    },
    strict: true,
    allowPositionals: false,
  });
  if (values.help) { process.stdout.write(SERVE_HELP); return; }
  const port = parsePort(values.port ?? env.PORT ?? '8080');
  const limits = limitsFrom(values.limit!);
  const backlog = values.backlog === undefined ? undefined : parseCount('--backlog', values.backlog);
  const experimental: ExperimentalOptions = { tunnels: await usage(() => tunnelsFrom(values.tunnel!)) };
  const workers = values.workers === undefined ? undefined : parseCount('--workers', values.workers);
  if (values['proxy-protocol'] && values['trust-proxy'] === undefined) throw new CliError('--proxy-protocol needs --trust-proxy ADDR[/PREFIX],...: whose headers to believe');
  const proxy = values['trust-proxy'] === undefined ? undefined : { protocol: values['proxy-protocol']!, trusted: await usage(() => parseTrustedProxies(values['trust-proxy']!)) };
  if (values['pcap-max-bytes'] !== undefined && values.pcap === undefined) throw new CliError('--pcap-max-bytes goes with --pcap FILE');
  const pcapMaxBytes = values['pcap-max-bytes'] === undefined ? 0 : parseSize('--pcap-max-bytes', values['pcap-max-bytes']);
  const redis = values.broker === undefined ? undefined : await usage(() => parseRedisUrl(values.broker!));
  const worker = ClusterWorker.current();
  // Every worker serves the same certificate: a self-signed one is made once, by the primary.
  const tls = worker !== undefined && process.env[CLUSTER_TLS_CERT] !== undefined
    ? inheritedTls()
    : await tlsFrom(values['tls-cert'], values['tls-key'], values['tls-self-signed']!, values['tls-export-cert']);
  if (values.watch && values.plugin!.length === 0) throw new CliError('--watch reloads --plugin files: give at least one --plugin FILE');
  const plugins = await usage(() => pluginsFrom(values.plugin!, values['plugin-option']!, values['plugin-config']));
  if (workers !== undefined && cluster.isPrimary) {
    // Everything above was checked here first, so a usage error exits 2 once, not once per worker.
    if (values.pcap !== undefined) checkWritable('--pcap', pcapFileFor(values.pcap, 1));
    if (values['tls-keylog'] !== undefined) checkWritable('--tls-keylog', values['tls-keylog'], 'a');
    runPrimary({
      workers, shutdownTimeoutMs: resolveLimits(limits).shutdownTimeoutMs,
      print: (line) => process.stdout.write(line + '\n'),
      log: (line) => process.stderr.write(line + '\n'),
      ...(tls === undefined ? {} : { env: { [CLUSTER_TLS_CERT]: tls.cert, [CLUSTER_TLS_KEY]: tls.key, [CLUSTER_TLS_SELF_SIGNED]: tls.selfSigned ? '1' : '', [CLUSTER_TLS_EXPORTED]: tls.exportedTo ?? '' } }),
    });
    return;
  }
  // Redis reaches every instance, this machine's other workers included; without it a cluster relays itself.
  const broker: RoomBroker | undefined = redis !== undefined ? new RedisBroker(redis) : worker === undefined ? undefined : new ClusterBroker(worker);
  let server;
  try {
    server = await startLab({
      host: values.host!, port, experimental, plugins: plugins.map((p) => p.handler), limits,
      ...(backlog === undefined ? {} : { backlog }),
      ...(tls === undefined ? {} : { tls: { cert: tls.cert, key: tls.key } }),
      ...(broker === undefined ? {} : { broker }),
      ...(worker === undefined ? {} : { cluster: worker }),
      ...(proxy === undefined ? {} : { proxy }),
      ...(values.pcap === undefined && values['tls-keylog'] === undefined ? {} : {
        capture: {
          ...(values.pcap === undefined ? {} : { pcap: worker === undefined ? values.pcap : pcapFileFor(values.pcap, worker.sequence), pcapMaxBytes }),
          ...(values['tls-keylog'] === undefined ? {} : { tlsKeylog: values['tls-keylog'] }),
        },
      }),
    });
  } catch (error) {
    await broker?.close();
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'EADDRINUSE') throw new CliError(`port ${port} on ${values.host} is already in use; pick another with --port (0 picks a free one)`, 1);
    if (code === 'EACCES') throw new CliError(`not allowed to listen on ${values.host}:${port} (ports below 1024 need privileges)`, 1);
    if (code === 'EADDRNOTAVAIL' || code === 'ENOTFOUND') throw new CliError(`cannot listen on ${values.host}: no such local address`, 1);
    // e.g. a plugin whose token is already taken (ERR_DUPLICATE_TOKEN), or an unusable certificate.
    if (error instanceof UsageError) throw new CliError(error.message, 2);
    throw error;
  }
  if (values.trace) server.events.subscribe((event) => process.stderr.write(formatTraceLine(event) + '\n'));
  // Signal handlers go in before the URL is printed: whoever reads the URL may signal at once.
  const stop = (signal: string): void => {
    process.stderr.write(`${signal}: closing gracefully\n`);
    const force = setTimeout(() => process.exit(1), server.limits.shutdownTimeoutMs + 2_000);
    force.unref();
    void server.close().then(() => {
      const capture = server.capture;
      if (capture !== undefined) {
        const lost = capture.dropped > 0 ? `, ${capture.dropped} packets dropped (the disk was slower than the traffic)` : '';
        process.stderr.write(`pcap: ${capture.size} bytes written to ${capture.path}${capture.cut ? ' (cut at --pcap-max-bytes)' : ''}${lost}${capture.error ? `; writing failed: ${capture.error.message}` : ''}\n`);
      }
      process.exit(0);
    });
  };
  process.once('SIGINT', () => stop('SIGINT'));
  process.once('SIGTERM', () => stop('SIGTERM'));
  // A worker whose primary is gone has no one to hand it connections or relay its room: it leaves.
  if (worker !== undefined) process.once('disconnect', () => stop('the primary went away'));
  const banner = [`switchyard listening on ${server.url}`];
  if (tls !== undefined) {
    banner.push(`switchyard listening on ${server.secureUrl} (TLS and cleartext on the same port: each connection's first byte decides)`);
    banner.push(`tls: sha256 ${tls.fingerprint256}${tls.selfSigned ? ' (self-signed, made at start)' : ''}`);
    if (tls.exportedTo !== undefined) banner.push(`tls: certificate written to ${tls.exportedTo}`);
  }
  banner.push(`protocols: ${server.registry.list().map((p) => p.token).join(', ')}`);
  if (values.pcap !== undefined) {
    const where = worker === undefined ? values.pcap : `${pcapFileFor(values.pcap, '*')} (one per worker; mergecap -w all.pcapng joins them)`;
    banner.push(`pcap: writing ${where}${pcapMaxBytes > 0 ? `, at most ${pcapMaxBytes} bytes` : ''}`);
  }
  if (values['tls-keylog'] !== undefined) banner.push(`tls: key log appended to ${values['tls-keylog']}`);
  for (const plugin of plugins) banner.push(`plugin ${plugin.name}: ${plugin.handler.token} from ${plugin.file}`);
  if (values.watch) {
    const watching = watchPlugins(server.registry, plugins, (line, failed) => (failed ? process.stderr : process.stdout).write(`${line}\n`));
    server.onClose(() => watching.close());
    for (const plugin of plugins) banner.push(`plugin ${plugin.name}: watching ${plugin.file} for changes`);
  }
  // In a cluster the primary prints the banner once, when every worker listens.
  if (worker !== undefined) worker.announceListening(banner);
  else process.stdout.write(banner.map((line) => line + '\n').join(''));
}

const CLUSTER_TLS_CERT = 'SWITCHYARD_CLUSTER_TLS_CERT';
const CLUSTER_TLS_KEY = 'SWITCHYARD_CLUSTER_TLS_KEY';
const CLUSTER_TLS_SELF_SIGNED = 'SWITCHYARD_CLUSTER_TLS_SELF_SIGNED';
const CLUSTER_TLS_EXPORTED = 'SWITCHYARD_CLUSTER_TLS_EXPORTED';

/** The certificate the primary loaded or made, for a worker of its cluster. */
function inheritedTls(): ServeTls {
  const cert = process.env[CLUSTER_TLS_CERT]!;
  return {
    cert, key: process.env[CLUSTER_TLS_KEY]!, fingerprint256: new X509Certificate(cert).fingerprint256,
    selfSigned: process.env[CLUSTER_TLS_SELF_SIGNED] === '1', exportedTo: process.env[CLUSTER_TLS_EXPORTED] || undefined,
  };
}

function tunnelsFrom(specs: readonly string[]): Record<string, TunnelTarget> {
  const tunnels: Record<string, TunnelTarget> = {};
  for (const spec of specs) {
    const { name, target } = parseTunnelSpec(spec);
    if (Object.hasOwn(tunnels, name)) throw new UsageError('ERR_BAD_TUNNEL', `--tunnel ${name} is given twice`);
    tunnels[name] = target;
  }
  return tunnels;
}

interface ServeTls {
  readonly cert: string;
  readonly key: string;
  readonly fingerprint256: string;
  readonly selfSigned: boolean;
  readonly exportedTo: string | undefined;
}

/**
 * The certificate the port serves: made now (`--tls-self-signed`) or read from two files. Every problem
 * with the files is a usage error that names the file: unreadable, no PEM certificate in it, no usable
 * private key in it, or a key that is not the certificate's.
 */
async function tlsFrom(certFile: string | undefined, keyFile: string | undefined, selfSigned: boolean, exportFile: string | undefined): Promise<ServeTls | undefined> {
  if (selfSigned) {
    if (certFile !== undefined || keyFile !== undefined) throw new CliError('--tls-self-signed makes its own certificate: leave out --tls-cert and --tls-key');
    const made = createSelfSignedCertificate();
    if (exportFile !== undefined) {
      try {
        await writeFile(exportFile, made.certPem);
      } catch (error) {
        throw new CliError(`cannot write --tls-export-cert ${exportFile} (${(error as NodeJS.ErrnoException).code ?? (error as Error).message})`);
      }
    }
    return { cert: made.certPem, key: made.keyPem, fingerprint256: made.fingerprint256, selfSigned: true, exportedTo: exportFile };
  }
  if (exportFile !== undefined) throw new CliError('--tls-export-cert goes with --tls-self-signed (with --tls-cert, the certificate is already in a file)');
  if (certFile === undefined && keyFile === undefined) return undefined;
  if (certFile === undefined || keyFile === undefined) {
    throw new CliError(`--tls-cert and --tls-key go together: ${certFile === undefined ? '--tls-cert' : '--tls-key'} is missing`);
  }
  const read = async (flag: string, file: string): Promise<string> => {
    try {
      return await readFile(file, 'utf8');
    } catch (error) {
      throw new CliError(`cannot read ${flag} ${file} (${(error as NodeJS.ErrnoException).code ?? (error as Error).message})`);
    }
  };
  const cert = await read('--tls-cert', certFile);
  const key = await read('--tls-key', keyFile);
  let certificate: X509Certificate;
  try {
    certificate = new X509Certificate(cert);
  } catch {
    throw new CliError(`--tls-cert ${certFile} holds no PEM certificate (expected -----BEGIN CERTIFICATE-----)`);
  }
  let privateKey: KeyObject;
  try {
    privateKey = createPrivateKey(key);
  } catch {
    throw new CliError(`--tls-key ${keyFile} holds no usable private key (expected an unencrypted PEM key, e.g. -----BEGIN PRIVATE KEY-----)`);
  }
  if (!certificate.checkPrivateKey(privateKey)) throw new CliError(`--tls-key ${keyFile} does not match the certificate in --tls-cert ${certFile}`);
  return { cert, key, fingerprint256: certificate.fingerprint256, selfSigned: false, exportedTo: undefined };
}

async function pluginsFrom(paths: readonly string[], entries: readonly string[], configFile: string | undefined): Promise<Array<LoadedPlugin & { options: PluginOptions | undefined }>> {
  const names = paths.map(pluginName);
  const config = configFile === undefined ? {} : await readPluginConfig(configFile);
  const options = mergePluginOptions(names, entries, config, configFile === undefined ? 'the plugin config' : `plugin config ${configFile}`);
  // Each plugin keeps its options: `--watch` gives every new version of it the same.
  return (await loadPlugins(paths, (name) => options.get(name))).map((plugin) => ({ ...plugin, options: options.get(plugin.name) }));
}

/**
 * Library errors about what the user asked for, as one-line CLI errors: a plugin that could not be
 * imported or whose factory threw is a runtime failure (1); everything else is a usage error (2).
 */
async function usage<T>(run: () => T | Promise<T>): Promise<T> {
  try {
    return await run();
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    const runtime = error.code === PluginErrorCode.Import || error.code === PluginErrorCode.Factory;
    throw new CliError(error.message, runtime ? 1 : 2);
  }
}

/** `capture.pcapng` → `capture.worker-2.pcapng`: every worker of a cluster writes its own file. */
function pcapFileFor(path: string, sequence: number | string): string {
  const dot = path.lastIndexOf('.');
  const slash = path.lastIndexOf('/');
  return dot > slash + 1 ? `${path.slice(0, dot)}.worker-${sequence}${path.slice(dot)}` : `${path}.worker-${sequence}`;
}

function checkWritable(flag: string, path: string, flags = 'w'): void {
  try {
    closeSync(openSync(path, flags));
  } catch (error) {
    throw new CliError(`cannot write ${flag} ${path} (${(error as NodeJS.ErrnoException).code ?? (error as Error).message})`);
  }
}

/** Bytes, with an optional binary suffix: `1048576`, `512k`, `10m`, `1g`. */
function parseSize(flag: string, text: string): number {
  const match = /^(\d+)([kmg]?)i?b?$/i.exec(text);
  const scale = { '': 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3 }[match?.[2]?.toLowerCase() ?? ''];
  const value = match === null || scale === undefined ? NaN : Number(match[1]) * scale;
  if (!Number.isSafeInteger(value) || value <= 0) throw new CliError(`${flag} takes a size in bytes (e.g. 1048576, 512k, 10m), got "${text}"`);
  return value;
}

function parseCount(flag: string, text: string): number {
  if (!/^\d+$/.test(text) || !Number.isSafeInteger(Number(text))) throw new CliError(`${flag} takes a whole number, got "${text}"`);
  return Number(text);
}

/** `--limit name=value` pairs, checked against the known limits so a typo is an error, not a silent default. */
function limitsFrom(pairs: readonly string[]): Partial<Limits> {
  const limits: Record<string, number> = {};
  for (const pair of pairs) {
    const eq = pair.indexOf('=');
    const name = eq === -1 ? pair : pair.slice(0, eq);
    if (eq === -1) throw new CliError(`--limit takes NAME=VALUE, got "${pair}"`);
    if (!(name in DEFAULT_LIMITS)) throw new CliError(`unknown limit "${name}"; known: ${Object.keys(DEFAULT_LIMITS).join(', ')}`);
    limits[name] = parseCount(`--limit ${name}`, pair.slice(eq + 1));
  }
  return limits as Partial<Limits>;
}
