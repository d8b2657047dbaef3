/**
 * Seeded fuzzing of the HTTP request parser, a bounded number of cases per `npm test` (the properties are
 * listed in http-target.ts). Fixed seeds, so every run checks the same cases; `npm run fuzz` runs more with
 * new seeds. A failure names the seed and case and the command that replays it.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { runIsolated } from './engine.js';
import { TARGETS_URL } from './targets.js';

const SEEDS = [0x5eed0001, 0x5eed0002];
const CASES_PER_SEED = 700;

describe('fuzz: HTTP request parser', () => {
  for (const seed of SEEDS) {
    it(`${CASES_PER_SEED} generated and mutated pipelines (seed ${seed}): typed errors only, terminates, bounded, same verdict however split`, { timeout: 120_000 }, async () => {
      const report = await runIsolated({ target: 'http', targetsUrl: TARGETS_URL, seed, cases: CASES_PER_SEED });
      assert.equal(report.cases, CASES_PER_SEED);
      // A fuzzer that only ever produced valid requests, or only one kind of error, would prove little.
      const labels = Object.keys(report.outcomes);
      const errors = labels.filter((label) => label.startsWith('ERR_'));
      const valid = labels.filter((label) => label.startsWith('ok:')).reduce((sum, label) => sum + report.outcomes[label]!, 0);
      assert.ok(errors.length >= 12, `only ${errors.length} distinct errors reached: ${errors.join(', ')}`);
      assert.ok(valid >= CASES_PER_SEED * 0.1, `only ${valid} cases parsed as valid requests`);
    });
  }
});
