/** HTTP/2 with independent clients: curl over TLS (ALPN h2), prior knowledge, and an ignored h2c offer. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { writeFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { withLab } from '../helpers/lab.js';
import { requireCommand } from '../helpers/require-command.js';

const fixture = (name: string): string => readFileSync(fileURLToPath(new URL(`../../../test/fixtures/tls/${name}`, import.meta.url)), 'utf8');
const cert = fixture('cert.pem');
const key = fixture('key.pem');

function curl(args: string[]): Promise<{ stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    execFile('curl', ['-sS', '--max-time', '10', ...args], { timeout: 15_000 }, (error, stdout, stderr) => {
      if (error) reject(new Error(`curl ${args.join(' ')}: ${error.message}\n${stderr}`)); else resolve({ stdout, stderr });
    });
  });
}

describe('HTTP/2 with curl', () => {
  it('negotiates h2 by prior knowledge in cleartext', (t) => {
    if (!requireCommand(t, 'curl', ['--version'])) return;
    return withLab({}, async (server) => {
      const prior = await curl(['--http2-prior-knowledge', '-w', '\n%{http_version}', `http://127.0.0.1:${server.port}/healthz`]);
      assert.equal(prior.stdout, 'ok\n\n2');
    });
  });

  it('negotiates h2 by ALPN over TLS, and the row shows TLS with ALPN h2', (t) => {
    if (!requireCommand(t, 'curl', ['--version'])) return;
    const dir = mkdtempSync(join(tmpdir(), 'h2-'));
    const caFile = join(dir, 'cert.pem');
    writeFileSync(caFile, cert);
    return withLab({ tls: { cert, key } }, async (server) => {
      const tls = await curl(['--http2', '--max-time', '3', '--cacert', caFile, '-w', '\n%{http_version}', `https://localhost:${server.port}/healthz`]);
      assert.equal(tls.stdout, 'ok\n\n2');
      const table = JSON.parse((await curl(['--http2', '--cacert', caFile, `https://localhost:${server.port}/connections`])).stdout) as {
        connections: Array<{ self?: true; http?: string; transport?: string; tls?: { alpn: string | null; sni: string | null } }>;
      };
      const mine = table.connections.find((row) => row.self);
      assert.ok(mine, JSON.stringify(table));
      assert.deepEqual([mine.http, mine.transport, mine.tls?.alpn, mine.tls?.sni], ['2', 'tls', 'h2', 'localhost']);
    }).finally(() => rmSync(dir, { recursive: true, force: true }));
  });

  it('answers an Upgrade: h2c offer in HTTP/1.1 (RFC 9113 §3.1 lets it ignore the offer)', (t) => {
    if (!requireCommand(t, 'curl', ['--version'])) return;
    return withLab({}, async (server) => {
      const url = `http://127.0.0.1:${server.port}/healthz`;
      // Two URLs on one curl: the connection works after the ignored offer and is reused.
      const out = await curl(['--http2', '-w', '\n%{http_version} %{http_code} %{num_connects}\n', url, url]);
      assert.equal(out.stdout, 'ok\n\n1.1 200 1\nok\n\n1.1 200 0\n');
    });
  });

  it('serves /protocols and /connections over h2; the row has http "2" and a stream for the request', (t) => {
    if (!requireCommand(t, 'curl', ['--version'])) return;
    return withLab({}, async (server) => {
      const protocols = await curl(['--http2-prior-knowledge', `http://127.0.0.1:${server.port}/protocols`]);
      assert.match(protocols.stdout, /lab-chat\/1/);
      assert.match(protocols.stdout, /websocket/);
      const table = JSON.parse((await curl(['--http2-prior-knowledge', `http://127.0.0.1:${server.port}/connections`])).stdout) as {
        connections: Array<{ self?: true; http?: string; streams?: Array<{ id: number; method: string; path: string }> }>;
      };
      const mine = table.connections.find((row) => row.self);
      assert.ok(mine, JSON.stringify(table));
      assert.equal(mine.http, '2');
      assert.ok(mine.streams?.some((s) => s.id === 1 && s.method === 'GET' && s.path === '/connections'), JSON.stringify(mine.streams));
    });
  });
});
