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

/**
 * What a command writes to and reads from: the process's streams and environment for the `keymat` command
 * ({@link processIo}); the tests run the same program with their own, in-process. Commands never touch
 * `process.stdout`, `process.env` or `process.exitCode` themselves.
 */
export interface CliIo {
  /** Writes text to standard output as it is. */
  write: (text: string) => void;
  /** Writes text to standard error as it is. */
  writeError: (text: string) => void;
  /** The variables the command reads (`AWS_ACCESS_KEY_ID`, `AWS_REGION`, `KEYMAT_*`: core/config.ts). */
  env: Readonly<Record<string, string | undefined>>;
  /** The exit code the command ends with, unless it throws: {@link EXIT}. */
  exitCode: number;
}

/** The `keymat` command's own: its process's streams and environment. */
export const processIo = (): CliIo => ({
  write: (text) => void process.stdout.write(text),
  writeError: (text) => void process.stderr.write(text),
  env: process.env,
  exitCode: EXIT.ok,
});

/** A function that prints one line of human text on `io`'s stdout. */
export const lineWriter =
  (io: CliIo) =>
  (line = ''): void =>
    io.write(`${line}\n`);

/** Prints a value as JSON on stdout (--json). */
export const printJson = (io: CliIo, value: unknown): void => io.write(`${JSON.stringify(value, null, 2)}\n`);
