import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { EXPERIMENTS } from '../../src/experiments/index.js';
import { startLab } from '../../src/lab.js';
import type { SwitchyardServer } from '../../src/server/server.js';
import { CLI, CLI_TIMEOUT_MS } from '../helpers/cli.js';
import { requireCommand } from '../helpers/require-command.js';

/**
 * docs/guide.md shows commands and their real output. This test runs every command again and checks that
 * the output's stable lines still match what the guide shows, in the same order, so the guide cannot rot.
 *
 * Stable means: not a trace line (it starts with a time), not a connection-table row (it starts with an
 * id), and compared after masking what differs between runs — ports, times in ms, the Date field, random
 * base64 keys and the accept values derived from them, and runs of spaces (column widths follow the
 * widest cell). Commands that talk to `127.0.0.1:8080` get a lab started by this test instead.
 */
const GUIDE = fileURLToPath(new URL('../../../docs/guide.md', import.meta.url));

interface Shown {
  readonly section: string;
  readonly command: string;
  readonly output: string[];
}

/** Every `$ command` of every console block, with the lines shown after it. */
function shownCommands(markdown: string): Shown[] {
  const shown: Shown[] = [];
  let section = '';
  let inConsole = false;
  let current: { section: string; command: string; output: string[] } | undefined;
  for (const line of markdown.split('\n')) {
    if (!inConsole && line.startsWith('## ')) section = line.slice(3);
    if (line.startsWith('```')) {
      if (!inConsole && line.trim() === '```console') { inConsole = true; continue; }
      if (inConsole) { inConsole = false; if (current) shown.push(current); current = undefined; continue; }
    }
    if (!inConsole) continue;
    if (line.startsWith('$ ')) {
      if (current) shown.push(current);
      current = { section, command: line.slice(2), output: [] };
    } else if (current) {
      current.output.push(line);
    }
  }
  return shown;
}

const TRACE_LINE = /^\s*\d\d:\d\d:\d\d\.\d{3} /;
const TABLE_ROW = /^\s*#\d+ /;

function normalise(line: string): string {
  return line
    .replace(/\b(\d{1,3}(?:\.\d{1,3}){3}):\d+\b/g, '$1:PORT')
    .replace(/\b\d+ ms\b/g, 'N ms')
    .replace(/\bpids? \d+(?:, \d+)*/g, 'pid PID')
    // A --workers cluster numbers rows from each worker's base (1000001, 2000001): which worker is first varies.
    .replace(/#\d{7}\b/g, '#ID')
    .replace(/^(\s*[<>]?\s*)Date: .*$/i, '$1Date: DATE')
    // The bytes experiment writes its capture to a fresh temp dir and filters tshark to its client port.
    .replace(/switchyard-bytes-[A-Za-z0-9]+/g, 'switchyard-bytes-DIR')
    .replace(/tcp\.port == \d+/g, 'tcp.port == PORT')
    .replace(/[A-Za-z0-9+/]{22}==|[A-Za-z0-9+/]{27}=/g, 'BASE64')
    .replace(/\s+/g, ' ')
    .trim();
}

const stable = (lines: readonly string[]): string[] =>
  lines.filter((line) => line.trim() !== '' && !TRACE_LINE.test(line) && !TABLE_ROW.test(line)).map(normalise);

/** Run one shell command line with `switchyard` on PATH, stdout and stderr interleaved as on a terminal. */
function runShown(command: string, bin: string): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn('sh', ['-c', `{ ${command}\n} 2>&1`], { env: { ...process.env, PATH: `${bin}:${process.env.PATH ?? ''}` } });
    let output = '';
    child.stdout.on('data', (d) => { output += d; });
    child.stderr.on('data', (d) => { output += d; });
    const timer = setTimeout(() => { child.kill('SIGKILL'); reject(new Error(`"${command}" did not finish within ${CLI_TIMEOUT_MS} ms`)); }, CLI_TIMEOUT_MS);
    child.once('close', (code) => { clearTimeout(timer); resolve({ code, output }); });
  });
}

describe('docs/guide.md', () => {
  const markdown = readFileSync(GUIDE, 'utf8');
  const commands = shownCommands(markdown);
  let lab: SwitchyardServer;
  let bin: string;

  before(async () => {
    lab = await startLab({ host: '127.0.0.1', port: 0 });
    bin = mkdtempSync(join(tmpdir(), 'switchyard-guide-'));
    writeFileSync(join(bin, 'switchyard'), `#!/bin/sh\nexec "${process.execPath}" "${CLI}" "$@"\n`);
    chmodSync(join(bin, 'switchyard'), 0o755);
  });
  after(async () => {
    await lab.close();
    rmSync(bin, { recursive: true, force: true });
  });

  it('ends every section with at least one switchyard command and its output', () => {
    const sections = markdown.split('\n').filter((line) => line.startsWith('## ')).map((line) => line.slice(3));
    assert.ok(sections.length >= 10, 'one section per question of QUESTIONS.md, plus the four concepts');
    for (const section of sections) {
      const shown = commands.filter((c) => c.section === section);
      assert.ok(shown.some((c) => /\bswitchyard /.test(c.command) && stable(c.output).length > 0), `section "${section}" shows a command and its output`);
    }
  });

  it('shows every experiment', () => {
    for (const { name } of EXPERIMENTS) {
      assert.ok(commands.some((c) => c.command === `switchyard experiment ${name}`), name);
    }
  });

  for (const shown of shownCommands(readFileSync(GUIDE, 'utf8'))) {
    it(`"${shown.command}" still prints what the guide shows`, async (t) => {
      // Output that tshark printed needs tshark (CI installs it; elsewhere the check is skipped).
      if (shown.output.some((line) => line.includes('tshark -r ')) && !requireCommand(t, 'tshark', ['--version'])) return;
      const command = shown.command.replaceAll('127.0.0.1:8080', `127.0.0.1:${lab.port}`);
      const { output } = await runShown(command, bin);
      const actual = stable(output.split('\n'));
      const expected = stable(shown.output);
      // In order: each line the guide shows must appear after the previous one.
      let at = 0;
      for (const line of expected) {
        const found = actual.indexOf(line, at);
        assert.ok(found !== -1, `the guide shows\n  ${line}\nbut the command now prints:\n${output}`);
        at = found + 1;
      }
    });
  }
});
