/**
 * `switchyard new-plugin NAME`: a working protocol to start from. It writes NAME.js, a line echo under
 * the token NAME/1 that already does what the contract checks look for (the head first, backpressure,
 * the FIN answered, a goodbye at shutdown, a limit on its one buffer), as an ES module with JSDoc types:
 * `serve --plugin` loads it as it is, an editor type-checks it. And NAME.test.js, which runs the
 * contract checks and one test of its own with `node --test` and `switchyard/testing`.
 */
import { access, readFile, writeFile } from 'node:fs/promises';
import { dirname, isAbsolute, join, relative, resolve, sep } from 'node:path';
import { parseArgs } from 'node:util';
import { CliError } from './cli-error.js';

export const NEW_PLUGIN_HELP = `switchyard new-plugin NAME [--dir DIR]

Write NAME.js, a working Upgrade protocol (a line echo under the token NAME/1, with comments where your
protocol goes), and NAME.test.js, its test (node --test NAME.test.js), into DIR (default: here).
NAME: lower-case letters, digits and dashes, starting with a letter.

Then:
  switchyard check-plugin DIR/NAME.js       the contract checks, one line each
  switchyard serve --plugin DIR/NAME.js --watch

Options:
  --dir DIR     where to write the two files (created if missing is not done: it must exist)
  --force       overwrite NAME.js and NAME.test.js if they exist
  -h, --help    show this help

Exit codes: 0 written, 1 cannot write, 2 usage error (bad NAME, files exist).
`;

export async function newPluginCommand(argv: string[]): Promise<void> {
  const { values, positionals } = parseArgs({
    args: argv,
    options: { dir: { type: 'string', default: '.' }, force: { type: 'boolean', default: false }, help: { type: 'boolean', short: 'h', default: false } },
    allowPositionals: true,
    strict: true,
  });
  if (values.help) { process.stdout.write(NEW_PLUGIN_HELP); return; }
  if (positionals.length !== 1) throw new CliError('new-plugin takes one NAME, e.g. switchyard new-plugin my-proto');
  const name = positionals[0]!;
  if (!/^[a-z][a-z0-9-]{0,62}$/.test(name)) throw new CliError(`"${name}" cannot be a plugin name: use lower-case letters, digits and dashes, starting with a letter`);
  const dir = resolve(values.dir!);
  if (!(await exists(dir))) throw new CliError(`--dir ${values.dir}: no such directory`);
  const files = [join(dir, `${name}.js`), join(dir, `${name}.test.js`)];
  if (!values.force) {
    for (const file of files) if (await exists(file)) throw new CliError(`${file} exists; pick another NAME or pass --force`);
  }
  const written: string[] = [];
  const write = async (file: string, text: string): Promise<void> => {
    try {
      await writeFile(file, text);
    } catch (error) {
      throw new CliError(`cannot write ${file} (${(error as NodeJS.ErrnoException).code ?? (error as Error).message})`, 1);
    }
    written.push(file);
  };
  await write(files[0]!, pluginSource(name));
  await write(files[1]!, testSource(name));
  // A .js file is an ES module only under a package.json that says "type": "module".
  const module = await moduleScope(dir);
  if (module === 'none') await write(join(dir, 'package.json'), `${JSON.stringify({ private: true, type: 'module' }, null, 2)}\n`);
  for (const file of written) process.stdout.write(`wrote ${shown(file)}\n`);
  if (module === 'commonjs') {
    process.stdout.write(`note: the package.json over ${dir} does not say "type": "module"; add it, or rename the files to .mjs\n`);
  }
  const [plugin, test] = files.map(shown) as [string, string];
  process.stdout.write(`\nNext:\n  node --test ${test}\n  switchyard check-plugin ${plugin}\n  switchyard serve --plugin ${plugin} --watch\n`);
}

/** `./name.js` under the current directory, the absolute path elsewhere. */
function shown(file: string): string {
  const path = relative(process.cwd(), file);
  return path.startsWith('..') || isAbsolute(path) ? file : `.${sep}${path}`;
}

const exists = (path: string): Promise<boolean> => access(path).then(() => true, () => false);

/** What makes .js files in `dir` ES modules: the nearest package.json's "type". */
async function moduleScope(dir: string): Promise<'module' | 'commonjs' | 'none'> {
  for (let at = dir; ; at = dirname(at)) {
    const text = await readFile(join(at, 'package.json'), 'utf8').catch(() => undefined);
    if (text !== undefined) {
      try {
        return (JSON.parse(text) as { type?: unknown }).type === 'module' ? 'module' : 'commonjs';
      } catch {
        return 'commonjs';
      }
    }
    if (dirname(at) === at) return 'none';
  }
}

export function pluginSource(name: string): string {
  const header = `X-${name.replace(/(^|-)([a-z])/g, (_m, dash: string, c: string) => dash + c.toUpperCase())}`;
  return `// ${name}.js — the ${name}/1 protocol, a switchyard plugin: an ES module, no build step.
//   switchyard serve --plugin ./${name}.js --watch          serve it (reloaded when this file changes)
//   switchyard connect --upgrade ${name}/1 http://127.0.0.1:8080/   talk to it: type a line, it comes back
//   switchyard check-plugin ./${name}.js                    the contract checks
//   node --test ${name}.test.js                             its tests
// As generated, it echoes lines. The comments marked YOUR PROTOCOL are where yours goes; the rest is
// what every protocol needs (docs/plugins.md: the head first, backpressure, the FIN, shutdown, limits).

/** @typedef {import('switchyard').ProtocolHandler} ProtocolHandler */
/** @typedef {import('switchyard/testing').CheckOptions} CheckOptions */

/** The longest line kept while waiting for its newline: every buffer has a limit. */
const MAX_LINE_BYTES = 4096;

/** @type {ProtocolHandler} */
const handler = {
  token: '${name}/1',
  description: '${name}/1: every line comes back (replace with what your protocol does)',

  // Before the 101: look at the request and decide. Nothing has been written to the client yet.
  handshake({ request }) {
    // YOUR PROTOCOL: refuse the requests you do not serve (the client gets this status, then a close)...
    if (request.path !== '/') return { action: 'reject', status: 404, body: '${name}/1 is served at /\\n' };
    // ...and decline what you do not speak: the client's next offer, or plain HTTP, is tried instead.
    const version = request.get('${header.toLowerCase()}-version');
    if (version !== undefined && version !== '1') return { action: 'decline' };
    return { action: 'accept', headers: [['${header}', 'ready']] };
  },

  // After the 101: the socket is yours until this promise settles; then the server closes what is left.
  takeover({ socket, head, signal }) {
    return new Promise((done) => {
      let partial = Buffer.alloc(0);    // the start of a line whose newline has not come yet
      /** @param {Uint8Array} bytes */
      const receive = (bytes) => {
        if (socket.writableEnded) return;
        partial = Buffer.concat([partial, bytes]);
        for (let newline = partial.indexOf(0x0a); newline !== -1; newline = partial.indexOf(0x0a)) {
          const line = partial.subarray(0, newline + 1);
          partial = partial.subarray(newline + 1);
          // YOUR PROTOCOL: one line from the client, newline included; answer it here.
          const reply = line;
          if (!socket.write(reply)) socket.pause();   // the client is not reading: stop reading until 'drain'
        }
        if (partial.length > MAX_LINE_BYTES) socket.end('error line too long\\n');
      };
      if (head.length > 0) receive(head);           // bytes that came with the request: the first line(s)
      socket.on('data', receive).on('drain', () => socket.resume());
      socket.on('end', () => socket.end());         // the client is done: close our side too
      socket.on('error', () => socket.destroy());
      const goodbye = () => socket.end('bye\\n');    // YOUR PROTOCOL: its goodbye when the server shuts down
      signal.addEventListener('abort', goodbye, { once: true });
      socket.on('close', () => { signal.removeEventListener('abort', goodbye); done(); });
      if (!socket.writableNeedDrain) socket.resume();   // unless answering the head already filled the socket
    });
  },
};

/**
 * How \`switchyard check-plugin\` and \`switchyard/testing\` drive this protocol: a message (default: a
 * line, answered on the same connection), and a request the handshake declines and one it rejects.
 * YOUR PROTOCOL: keep these in step with handshake() and with what a message looks like.
 * @type {CheckOptions}
 */
export const contract = {
  exchange: { message: (nonce) => \`\${nonce}\\n\` },
  decline: { headers: [['${header}-Version', '2']] },
  reject: { path: '/elsewhere', status: 404 },
};

export default handler;
`;
}

export function testSource(name: string): string {
  const header = `x-${name}`;
  return `// ${name}.test.js — run it: node --test ${name}.test.js
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { formatCheckLine, openUpgraded, readWithTimeout, runContractChecks, startPrivateServer } from 'switchyard/testing';
import handler, { contract } from './${name}.js';

test('${name}/1 keeps the plugin contract (the checks of switchyard check-plugin)', async () => {
  const results = await runContractChecks(handler, contract);
  assert.deepEqual(results.filter((result) => !result.ok).map(formatCheckLine), []);
});

test('${name}/1 answers lines, the first one sent in the same write as the request', async () => {
  const server = await startPrivateServer(handler);
  try {
    const client = await openUpgraded(server.port, '${name}/1', { early: 'hello\\n' });
    assert.equal(client.response?.status, 101);
    assert.equal(client.response?.headers['${header}'], 'ready');
    await readWithTimeout(client, 'hello\\n');
    client.write('and again\\n');
    // YOUR PROTOCOL: what your protocol answers instead of an echo.
    assert.equal((await readWithTimeout(client, 'and again\\n')).toString(), 'hello\\nand again\\n');
    client.end();
    assert.equal(await client.waitForEnd(2_000), true, 'the server answers our FIN with its own');
  } finally {
    await server.close();
  }
});
`;
}
