import { CloudFormationClient, DescribeStacksCommand } from '@aws-sdk/client-cloudformation';
import { SFNClient, type DescribeExecutionCommandOutput, type HistoryEvent } from '@aws-sdk/client-sfn';
import { GetCallerIdentityCommand, STSClient } from '@aws-sdk/client-sts';
import { KMSClient } from '@aws-sdk/client-kms';
import { sameIdentity } from '../core/approvals';
import { ChangeClient } from '../core/change-client';
import { cliEnvironment } from '../core/config';
import { DEFAULT_WAIT_SECONDS } from '../core/defaults';
import { errorName } from '../core/errors';
import type { PendingApprovalTask } from '../core/history';
import { parseChangeInput } from '../core/input';
import { regionOfArn } from '../core/naming';
import type { ChangeInput } from '../core/types';
import { LOCAL_CREDENTIALS } from '../local/clients';
import { DEFAULT_REGION, LOCAL_ACCOUNT_ID } from '../local/kms/model';
import { localStateMachineArn } from '../local/engine';
import { runningEndpoint } from '../local/server';
import { CliError } from './output';

/** Where the operator commands act: a deployed stack, or the local stack serving a state folder. */
export interface Target {
  sfn: SFNClient;
  sts: STSClient;
  /** For the expiry scan; the SDK's retry backs off on throttling (up to 8 attempts). */
  kms: KMSClient;
  stateMachineArn: string;
  /** The changes of the target's workflow. */
  changes: ChangeClient;
}

/** The state machine the local stack serves (its default account and Region). */
export const LOCAL_STATE_MACHINE_ARN = localStateMachineArn(DEFAULT_REGION, LOCAL_ACCOUNT_ID);

const targetOf = (sfn: SFNClient, sts: STSClient, kms: KMSClient, stateMachineArn: string): Target => ({
  sfn,
  sts,
  kms,
  stateMachineArn,
  changes: new ChangeClient({ sfn, stateMachineArn }),
});

/** The local stack of a state folder, with the caller's credentials or, when none are set, the local identity. */
export function localTarget(stateDir: string, credentials?: { accessKeyId: string; secretAccessKey: string }): Target {
  const endpoint = runningEndpoint(stateDir);
  if (!endpoint) {
    throw new CliError(
      `no local stack is serving ${stateDir}: start one with 'keymat local serve --state-dir ${stateDir}'`,
    );
  }
  const creds = credentials ?? cliEnvironment().credentials ?? LOCAL_CREDENTIALS;
  const config = { endpoint, region: DEFAULT_REGION, credentials: creds };
  return targetOf(
    new SFNClient(config),
    new STSClient(config),
    new KMSClient({ ...config, maxAttempts: 8 }),
    LOCAL_STATE_MACHINE_ARN,
  );
}

/**
 * A deployed stack: the state machine ARN from the option, `KEYMAT_STATE_MACHINE_ARN`, or the `StateMachineArn`
 * output of the CloudFormation stack (default `Keymat`). The SDK's own configuration chain supplies credentials,
 * Region and any `AWS_ENDPOINT_URL*` override.
 */
export async function awsTarget(options: { stateMachineArn?: string; stackName: string }): Promise<Target> {
  let stateMachineArn = options.stateMachineArn ?? cliEnvironment().stateMachineArn;
  if (!stateMachineArn) {
    const stacks = await new CloudFormationClient({}).send(new DescribeStacksCommand({ StackName: options.stackName }));
    stateMachineArn = stacks.Stacks?.[0]?.Outputs?.find((o) => o.OutputKey === 'StateMachineArn')?.OutputValue;
    if (!stateMachineArn) throw new CliError(`stack ${options.stackName} has no StateMachineArn output`);
  }
  return targetOf(new SFNClient({}), new STSClient({}), new KMSClient({ maxAttempts: 8 }), stateMachineArn);
}

/** Who the target's credentials belong to (STS GetCallerIdentity): the requester and approver keymat records. */
export async function callerIdentity(target: Target): Promise<{ arn: string; account: string }> {
  const id = await target.sts.send(new GetCallerIdentityCommand({}));
  if (!id.Arn || !id.Account) throw new CliError('STS GetCallerIdentity named no caller: check your credentials');
  return { arn: id.Arn, account: id.Account };
}

/** An execution given by ARN or by name (a name is looked up under the target's state machine). */
export const executionArn = (target: Target, execution: string): string => target.changes.executionArn(execution);

/** A change as `keymat start` gives it; the workflow applies the defaults of what is left out. */
export interface StartRequest {
  keyId: string;
  keyMaterialId?: string;
  changeId: string;
  reason: string;
  requestedBy?: string;
  waitSeconds?: number;
  dryRun?: boolean;
}

/**
 * Starts a change after checking its input as the workflow will; the requester defaults to the caller. Starting the
 * same change again returns its running execution; a finished one is not started twice.
 */
export async function startChange(
  target: Target,
  request: StartRequest,
): Promise<{ executionArn: string; input: ChangeInput }> {
  const caller = await callerIdentity(target);
  // Only what was given goes in: the workflow applies its own defaults, and the same command gives the same input.
  const raw: Record<string, unknown> = Object.fromEntries(
    Object.entries({ ...request, requestedBy: request.requestedBy ?? caller.arn }).filter(([, v]) => v !== undefined),
  );
  let input: ChangeInput;
  try {
    input = parseChangeInput(
      raw,
      { account: caller.account, region: regionOfArn(target.stateMachineArn) },
      DEFAULT_WAIT_SECONDS,
    );
  } catch (err) {
    throw new CliError(`${errorName(err) ?? 'Error'}: ${(err as Error).message}`);
  }
  const started = await target.changes.start(input.changeId, raw);
  if (started.state === 'FINISHED') {
    throw new CliError(
      `change ${input.changeId} already ran as execution ${started.executionArn} (${started.status}); use a new change id`,
    );
  }
  return { executionArn: started.executionArn, input };
}

/** DescribeExecution of an execution given by name or ARN; a missing one is refused as ExecutionNotFound. */
export const describe = (target: Target, execution: string): Promise<DescribeExecutionCommandOutput> =>
  target.changes.describe(execution);

/** Every event of an execution given by name or ARN. */
export const history = (target: Target, execution: string): Promise<HistoryEvent[]> =>
  target.changes.history(execution);

/** Approves as the caller; the requester of a change can never approve it. */
export async function approve(
  target: Target,
  execution: string,
  comment?: string,
): Promise<{ approver: string; approvals: number; quorum: number }> {
  const { task } = await target.changes.waitingApproval(execution);
  const me = await callerIdentity(target);
  if (sameIdentity(me.arn, task.input.requestedBy)) {
    throw new CliError(`you (${me.arn}) requested change ${task.input.changeId}: another person must approve it`);
  }
  const output = await target.changes.approve(task, {
    by: me.arn,
    channel: 'cli',
    ...(comment !== undefined && { comment }),
  });
  return { approver: me.arn, approvals: output.approvals.length, quorum: task.rules.quorum };
}

/** Rejects as the caller: the change ends ApprovalRejected with the comment as the cause. */
export async function reject(target: Target, execution: string, comment: string): Promise<{ rejectedBy: string }> {
  const { task } = await target.changes.waitingApproval(execution);
  const me = await callerIdentity(target);
  await target.changes.reject(task, { by: me.arn, channel: 'cli', comment });
  return { rejectedBy: me.arn };
}

/** Executions waiting for an approval, with their plans. */
export const pendingApprovals = (target: Target): Promise<{ executionArn: string; task: PendingApprovalTask }[]> =>
  target.changes.pending();
