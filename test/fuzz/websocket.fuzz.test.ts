/**
 * Seeded fuzzing of the WebSocket codec — the frame decoder and the protocol above it — a bounded number
 * of cases per `npm test` (the properties are listed in websocket-targets.ts). Fixed seeds, so every run
 * checks the same cases; `npm run fuzz` runs more with new seeds.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { type FuzzReport, runIsolated } from './engine.js';
import { TARGETS_URL } from './targets.js';

const SEED = 0x5eed0003;

function reached(report: FuzzReport): { errors: string[]; valid: number } {
  const labels = Object.keys(report.outcomes);
  return {
    errors: labels.filter((label) => label.startsWith('ERR_')),
    valid: labels.filter((label) => label.startsWith('ok:')).reduce((sum, label) => sum + report.outcomes[label]!, 0),
  };
}

describe('fuzz: WebSocket codec', () => {
  it('frame decoder: 700 generated and mutated streams: typed errors only, terminates, holds < 14 bytes, same frames however split', { timeout: 120_000 }, async () => {
    const report = await runIsolated({ target: 'frame-decoder', targetsUrl: TARGETS_URL, seed: SEED, cases: 700 });
    const { errors, valid } = reached(report);
    assert.ok(errors.length >= 7, `only ${errors.length} distinct errors reached: ${errors.join(', ')}`);
    assert.ok(valid >= 70, `only ${valid} streams decoded without error`);
  });

  it('protocol: 800 generated and mutated streams: typed errors only, terminates, capped messages, same events however split', { timeout: 120_000 }, async () => {
    const report = await runIsolated({ target: 'websocket', targetsUrl: TARGETS_URL, seed: SEED + 1, cases: 800 });
    const { errors, valid } = reached(report);
    assert.ok(errors.length >= 10, `only ${errors.length} distinct errors reached: ${errors.join(', ')}`);
    assert.ok(valid >= 80, `only ${valid} streams decoded without error`);
  });
});
