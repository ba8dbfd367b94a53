import { spawn } from 'node:child_process';
import { join } from 'node:path';

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** The built CLI, as the package ships it (scripts/jest-global-setup.ts builds it before the tests run). */
export const KEYMAT = join(__dirname, '..', '..', 'dist', 'cli', 'keymat.mjs');

/** Runs a command as a child process and collects its output. */
export function run(command: string, args: string[], env: NodeJS.ProcessEnv = {}): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

/** Runs the keymat command exactly as the installed `keymat` does. */
export const keymat = (args: string[], env: NodeJS.ProcessEnv = {}): Promise<CliResult> =>
  run(process.execPath, [KEYMAT, ...args], env);

/**
 * Runs the keymat program in this process, from its sources (cli/program.ts), with `env` over the test's environment,
 * and collects what it printed and its exit code as `keymat` does. For suites that run one command many times (each
 * bad argument, each approver): a process start costs far more CPU than a call, and the built CLI is started by the suites
 * of each command.
 */
export async function keymatInProcess(args: string[], env: NodeJS.ProcessEnv = {}): Promise<CliResult> {
  const { runKeymat } = await import('../../cli/program.js');
  let stdout = '';
  let stderr = '';
  const code = await runKeymat(args, {
    write: (text) => (stdout += text),
    writeError: (text) => (stderr += text),
    env: { ...process.env, ...env },
    exitCode: 0,
  });
  return { code, stdout, stderr };
}

export interface ServedStack {
  endpoint: string;
  /** Stops the server with the signal (SIGTERM: a clean stop; SIGKILL: a crash) and waits for it to exit. */
  stop: (signal?: NodeJS.Signals) => Promise<void>;
}

/** Starts `keymat local … serve` as a child process and waits for the endpoint it prints. */
export async function serve(args: string[]): Promise<ServedStack> {
  const child = spawn(process.execPath, [KEYMAT, ...args], { stdio: ['ignore', 'pipe', 'inherit'] });
  const endpoint = await new Promise<string>((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`keymat ${args.join(' ')} exited ${code} before serving`)));
    child.stdout.on('data', (d: Buffer) => {
      const m = /at (http:\/\/127\.0\.0\.1:\d+)/.exec(d.toString());
      if (m) resolve(m[1] as string);
    });
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  return {
    endpoint,
    stop: async (signal = 'SIGTERM') => {
      child.kill(signal);
      await exited;
    },
  };
}
