import { spawn } from 'node:child_process';
import { join } from 'node:path';

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

const KEYMAT = join(__dirname, '..', '..', 'cli', 'keymat.js');

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

/** Runs the keymat command exactly as `npx keymat` does. */
export const keymat = (args: string[], env: NodeJS.ProcessEnv = {}): Promise<CliResult> =>
  run(process.execPath, [KEYMAT, ...args], env);
