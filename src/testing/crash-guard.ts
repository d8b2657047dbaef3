/**
 * While a check runs, an exception nobody caught (a throw in a plugin's timer, a rejected promise it
 * dropped) would end the process that runs the checks. The guard collects them instead, so the check
 * can say "FAIL: the plugin threw outside any connection" and the other checks still run.
 */
export interface CrashGuard {
  readonly errors: readonly unknown[];
  release(): void;
}

export function guardProcess(): CrashGuard {
  const errors: unknown[] = [];
  const onError = (error: unknown): void => { errors.push(error); };
  process.on('uncaughtException', onError);
  process.on('unhandledRejection', onError);
  return {
    errors,
    release() {
      process.off('uncaughtException', onError);
      process.off('unhandledRejection', onError);
    },
  };
}

export const describeError = (error: unknown): string => (error instanceof Error ? error.message : String(error));
