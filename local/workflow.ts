import { Duration } from 'aws-cdk-lib';
import { configFromContext } from '../infra/config';
import { synthesizeDefinition } from './definition';
import { configureHandlers, runLocalExecution, type LocalRunOptions, type LocalRunResult } from './engine';
import type { FaultFile } from './kms/faults';
import { DEFAULT_REGION, LOCAL_ACCOUNT_ID } from './kms/model';
import { LocalStack, runningEndpoint } from './server';

export interface LocalWorkflowOptions {
  stateDir: string;
  faults?: FaultFile;
  /** A KMS endpoint other than the local stack's (LocalStack, another emulator). */
  kmsEndpoint?: string;
  /** The synthesized RequestApproval timeout. */
  approvalTimeoutSeconds: number;
  /** @default 30 */
  defaultWaitSeconds?: number;
}

/** The deletion workflow on the embedded local stack, ready to run executions. */
export interface LocalWorkflow {
  endpoint: string;
  stateDir: string;
  run(
    input: unknown,
    options: Omit<LocalRunOptions, 'definition' | 'input' | 'account' | 'region'>,
  ): Promise<LocalRunResult>;
  close(): Promise<void>;
}

/**
 * Synthesizes the CDK app with the given approval timeout, points the handlers at the local stack (the one serving
 * the state folder, or one started here) and returns a runner for executions of that definition.
 */
export async function openLocalWorkflow(options: LocalWorkflowOptions): Promise<LocalWorkflow> {
  const served = runningEndpoint(options.stateDir);
  if (served && options.faults) {
    throw new Error(`state folder ${options.stateDir} is served at ${served}: give --faults to that server instead`);
  }
  const stack = served ? undefined : await LocalStack.start({ stateDir: options.stateDir, faults: options.faults });
  const endpoint = served ?? (stack as LocalStack).endpoint;
  const env = { account: LOCAL_ACCOUNT_ID, region: DEFAULT_REGION };
  const defaultWaitSeconds = options.defaultWaitSeconds ?? 30;
  configureHandlers({
    endpoint,
    ...(options.kmsEndpoint && { kmsEndpoint: options.kmsEndpoint }),
    ...env,
    defaultWaitSeconds,
  });
  const definition = synthesizeDefinition(
    {
      ...configFromContext(() => undefined),
      approvalTimeout: Duration.seconds(options.approvalTimeoutSeconds),
      defaultWaitSeconds,
    },
    env,
  );
  return {
    endpoint,
    stateDir: options.stateDir,
    run: (input, runOptions) => runLocalExecution(options.stateDir, { ...runOptions, definition, input, ...env }),
    close: async () => stack?.close(),
  };
}
