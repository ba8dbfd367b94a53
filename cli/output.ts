/** A refusal of keymat's own: printed as its message alone, exit code EXIT.failed. */
export class CliError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'CliError';
  }
}

/**
 * keymat's exit codes, one rule for every command (`keymat --help` states it): 0 the command did what it was asked;
 * 1 it could not (a refusal, an AWS or KMS error), with one line on stderr; 2 the command line was wrong; 3 it worked,
 * and the execution it ran or followed ended other than SUCCEEDED (FAILED, TIMED_OUT, ABORTED).
 */
export const EXIT = { ok: 0, failed: 1, usage: 2, executionNotSucceeded: 3 } as const;

/** What `keymat --help` says of the output and the exit codes. */
export const OUTPUT_POLICY = `Output: human text on stdout, errors as one line on stderr; --json (where offered) prints JSON on stdout.
Exit codes: ${EXIT.ok} done; ${EXIT.failed} refused or failed (one line on stderr); ${EXIT.usage} usage error; ${EXIT.executionNotSucceeded} the execution run or followed ended other than SUCCEEDED.`;

export const printJson = (value: unknown): void => {
  process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
};
