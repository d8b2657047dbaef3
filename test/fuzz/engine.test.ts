/**
 * The fuzz engine itself: a fuzz test that could not fail would be worse than none. Deterministic cases,
 * failures that name their seed and case and replay alone, verdicts that depend on chunking caught, and a
 * hung case reported instead of hanging the run.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { caseSeed, FuzzFailure, Random, runCase, runFuzz, runIsolated } from './engine.js';
import { BROKEN_TARGETS_URL, TARGETS as BROKEN } from './broken-targets.js';
import { TARGETS } from './targets.js';

describe('fuzz engine', () => {
  it('the same seed gives the same numbers and the same case inputs; neighbouring cases differ', () => {
    const a = new Random(42);
    const b = new Random(42);
    assert.deepEqual(Array.from({ length: 20 }, () => a.int(1000)), Array.from({ length: 20 }, () => b.int(1000)));
    assert.notEqual(caseSeed(1, 0), caseSeed(1, 1));
    assert.notEqual(caseSeed(1, 0), caseSeed(2, 0));
    for (const target of Object.values(TARGETS)) {
      const first = target.generate(new Random(caseSeed(7, 3)));
      const again = target.generate(new Random(caseSeed(7, 3)));
      assert.deepEqual(again.input, first.input, `${target.name} generates deterministically`);
    }
  });

  it('reports a verdict that depends on how the bytes were split, with seed, case and the replay command', () => {
    assert.throws(() => runFuzz(BROKEN['chunk-sensitive']!, { seed: 9, cases: 5 }), (error: unknown) => {
      assert.ok(error instanceof FuzzFailure);
      assert.equal(error.caseIndex, 0);
      assert.match(error.message, /differs from the whole input/);
      assert.match(error.message, /npm run fuzz -- --target chunk-sensitive --seed 9 --case 0/);
      assert.match(error.message, /input \(hex\): [0-9a-f]+/);
      return true;
    });
  });

  it('a failure at case N replays alone from its seed and case number', () => {
    let failure: FuzzFailure | undefined;
    try {
      runFuzz(BROKEN['rare-failure']!, { seed: 1234, cases: 1000 });
    } catch (error) {
      failure = error as FuzzFailure;
    }
    assert.ok(failure instanceof FuzzFailure, 'one case in sixteen fails, so 1000 cases find one');
    assert.ok(failure.caseIndex > 0);
    assert.throws(() => runCase(BROKEN['rare-failure']!, 1234, failure.caseIndex), { message: failure.message });
    assert.doesNotThrow(() => runCase(BROKEN['rare-failure']!, 1234, failure.caseIndex - 1));
  });

  it('a case that never returns is reported as a hang with its case number, and the run ends', { timeout: 60_000 }, async () => {
    await assert.rejects(
      runIsolated({ target: 'hang', targetsUrl: BROKEN_TARGETS_URL, seed: 5, cases: 3, hangMs: 500 }),
      (error: unknown) => {
        assert.ok(error instanceof FuzzFailure);
        assert.equal(error.caseIndex, 0);
        assert.match(error.message, /hang/);
        return true;
      },
    );
  });

  it('isolated runs report their cases and verdicts', { timeout: 60_000 }, async () => {
    const report = await runIsolated({ target: 'rare-failure', targetsUrl: BROKEN_TARGETS_URL, seed: 1234, cases: 3 });
    assert.deepEqual(report.outcomes, { ok: 3 });
    await assert.rejects(runIsolated({ target: 'rare-failure', targetsUrl: BROKEN_TARGETS_URL, seed: 1234, cases: 1000 }), /first byte \d+ is below 16/);
  });
});
