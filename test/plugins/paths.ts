import { fileURLToPath } from 'node:url';

/** The compiled docs examples: test/tsconfig.json builds docs/examples into .test-build/docs/examples. */
export const EXAMPLES = fileURLToPath(new URL('../../docs/examples/', import.meta.url));
/** The repository root, where README.md and docs/ live. */
export const REPO = fileURLToPath(new URL('../../../', import.meta.url));
