import { KMSClient } from '@aws-sdk/client-kms';
import { SFNClient } from '@aws-sdk/client-sfn';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FaultFile } from '../../local/kms/faults';
import { internalCredentials } from '../../local/services/internal-access';
import { LocalStack } from '../../local/services/server';
import { DEFAULT_REGION, LOCAL_CREDENTIALS } from '../../local/constants';

export interface TestStack {
  stack: LocalStack;
  stateDir: string;
  /** A real SDK client on the stack; `maxAttempts` 1 turns the SDK's own retries off. */
  kms: (options?: { region?: string; maxAttempts?: number }) => KMSClient;
  operations: () => string[];
  close: () => Promise<void>;
}

export async function startTestStack(faults?: FaultFile, stateDir?: string): Promise<TestStack> {
  const dir = stateDir ?? mkdtempSync(join(tmpdir(), 'keymat-test-'));
  const stack = await LocalStack.start({ stateDir: dir, faults });
  return {
    stack,
    stateDir: dir,
    kms: ({ region = DEFAULT_REGION, maxAttempts } = {}) =>
      new KMSClient({ endpoint: stack.endpoint, region, credentials: LOCAL_CREDENTIALS, maxAttempts }),
    operations: () => stack.requestLog.read().map((e) => e.operation),
    close: async () => {
      await stack.close();
      if (!stateDir) rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Runs `fn` and returns the error it threw, failing the test when it did not throw. */
export async function errorOf(
  fn: () => Promise<unknown>,
): Promise<Error & { $metadata?: { httpStatusCode?: number; attempts?: number }; $fault?: string }> {
  try {
    await fn();
  } catch (err) {
    return err as Error;
  }
  throw new Error('expected an error, but the call succeeded');
}

/**
 * A Step Functions client of the stack serving `stateDir`, signed with keymat's own credentials from the folder: it
 * stands for whoever holds states:StartExecution or states:SendTask* on a deployed stack (keymat's roles, or an
 * administrator who grants them to himself), the attacker the attestations are for. Everyone else is refused them.
 */
export const keymatSfnClient = (endpoint: string, stateDir: string): SFNClient =>
  new SFNClient({ endpoint, region: DEFAULT_REGION, credentials: internalCredentials(stateDir), maxAttempts: 1 });
