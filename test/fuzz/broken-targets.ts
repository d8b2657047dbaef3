/**
 * Targets that are wrong on purpose, for the engine's own tests: the engine must report a verdict that
 * depends on chunking, a failure at a given case (replayable alone), and a hang.
 */
import { chunkings, type FuzzTarget } from './engine.js';

/** "Parses" by counting chunks: the same bytes split differently give a different verdict. */
const chunkSensitive: FuzzTarget<null> = {
  name: 'chunk-sensitive',
  generate: (random) => ({ input: random.bytes(random.range(2, 20)), params: null }),
  check(input, _params, random) {
    const verdicts = chunkings(input, random).map(({ label, chunks }) => ({ label, verdict: chunks.length }));
    const differing = verdicts.find((v) => v.verdict !== verdicts[0]!.verdict);
    if (differing) throw new Error(`[${differing.label}] differs from the whole input`);
    return 'ok';
  },
};

/** Fails on inputs starting with a byte below 16: about one case in sixteen. */
const rareFailure: FuzzTarget<null> = {
  name: 'rare-failure',
  generate: (random) => ({ input: random.bytes(4), params: null }),
  check(input) {
    if (input[0]! < 16) throw new Error(`first byte ${input[0]} is below 16`);
    return 'ok';
  },
};

/** Never returns. */
const hang: FuzzTarget<null> = {
  name: 'hang',
  generate: (random) => ({ input: random.bytes(1), params: null }),
  check(input) {
    let spins = 0;
    while (input.length > 0) spins++;
    return String(spins);
  },
};

export const TARGETS: Readonly<Record<string, FuzzTarget<any>>> = {
  [chunkSensitive.name]: chunkSensitive,
  [rareFailure.name]: rareFailure,
  [hang.name]: hang,
};

export const BROKEN_TARGETS_URL = import.meta.url;
