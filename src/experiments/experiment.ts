import type { Report } from './report.js';

/**
 * A scripted experiment: it starts its own lab on an ephemeral port of 127.0.0.1, drives real clients
 * against it, and prints what happened (the steps, the server's trace, the connection table) followed by
 * a one-line conclusion that answers its question from what was observed, not from what was expected.
 */
export interface Experiment {
  /** The name on the command line: `switchyard experiment <name>`. */
  readonly name: string;
  /** One line for the list. */
  readonly title: string;
  /** The learner's question it answers (docs/guide.md and /work/shared/QUESTIONS.md). */
  readonly question: string;
  /**
   * Runs the experiment, writing to `report`. Resolves to false when what happened contradicts the
   * conclusion the experiment exists to show (the report then says what was seen instead).
   */
  run(report: Report): Promise<boolean>;
}
