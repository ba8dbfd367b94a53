import { CloudFormationClient, DescribeStacksCommand } from '@aws-sdk/client-cloudformation';
import {
  DescribeExecutionCommand,
  ListExecutionsCommand,
  SendTaskFailureCommand,
  SendTaskSuccessCommand,
  SFNClient,
  StartExecutionCommand,
  type DescribeExecutionCommandOutput,
  type HistoryEvent,
} from '@aws-sdk/client-sfn';
import { GetCallerIdentityCommand, STSClient } from '@aws-sdk/client-sts';
import { KMSClient } from '@aws-sdk/client-kms';
import { executionArnOf, executionNameFor, parseChangeInput } from '../core/input';
import { refusal, rejection, withApproval } from '../core/approvals';
import { pendingApproval, readHistory, type PendingApprovalTask } from '../core/history';
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
}

export const LOCAL_STATE_MACHINE_ARN = localStateMachineArn(DEFAULT_REGION, LOCAL_ACCOUNT_ID);

/** The local stack of a state folder, with the caller's credentials or, when none are set, the local identity. */
export function localTarget(stateDir: string, credentials?: { accessKeyId: string; secretAccessKey: string }): Target {
  const endpoint = runningEndpoint(stateDir);
  if (!endpoint) {
    throw new CliError(
      `no local stack is serving ${stateDir}: start one with 'keymat local serve --state-dir ${stateDir}'`,
    );
  }
  const creds =
    credentials ??
    (process.env.AWS_ACCESS_KEY_ID
      ? { accessKeyId: process.env.AWS_ACCESS_KEY_ID, secretAccessKey: process.env.AWS_SECRET_ACCESS_KEY ?? 'local' }
      : LOCAL_CREDENTIALS);
  const config = { endpoint, region: DEFAULT_REGION, credentials: creds };
  return {
    sfn: new SFNClient(config),
    sts: new STSClient(config),
    kms: new KMSClient({ ...config, maxAttempts: 8 }),
    stateMachineArn: LOCAL_STATE_MACHINE_ARN,
  };
}

/**
 * A deployed stack: the state machine ARN from the option, `KEYMAT_STATE_MACHINE_ARN`, or the `StateMachineArn`
 * output of the CloudFormation stack (default `Keymat`). The SDK's own configuration chain supplies credentials,
 * Region and any `AWS_ENDPOINT_URL*` override.
 */
export async function awsTarget(options: { stateMachineArn?: string; stackName: string }): Promise<Target> {
  let stateMachineArn = options.stateMachineArn ?? process.env.KEYMAT_STATE_MACHINE_ARN;
  if (!stateMachineArn) {
    const stacks = await new CloudFormationClient({}).send(new DescribeStacksCommand({ StackName: options.stackName }));
    stateMachineArn = stacks.Stacks?.[0]?.Outputs?.find((o) => o.OutputKey === 'StateMachineArn')?.OutputValue;
    if (!stateMachineArn) throw new CliError(`stack ${options.stackName} has no StateMachineArn output`);
  }
  return { sfn: new SFNClient({}), sts: new STSClient({}), kms: new KMSClient({ maxAttempts: 8 }), stateMachineArn };
}

export async function callerIdentity(target: Target): Promise<{ arn: string; account: string }> {
  const id = await target.sts.send(new GetCallerIdentityCommand({}));
  return { arn: id.Arn as string, account: id.Account as string };
}

/** An execution given by ARN or by name (a name is looked up under the target's state machine). */
export function executionArn(target: Target, execution: string): string {
  if (execution.startsWith('arn:')) return execution;
  return executionArnOf(target.stateMachineArn, execution);
}

export interface StartRequest {
  keyId: string;
  keyMaterialId?: string;
  changeId: string;
  reason: string;
  requestedBy?: string;
  waitSeconds?: number;
  dryRun?: boolean;
}

/** Starts a change after checking its input as the workflow will; the requester defaults to the caller. */
export async function startChange(
  target: Target,
  request: StartRequest,
): Promise<{ executionArn: string; input: ChangeInput }> {
  const caller = await callerIdentity(target);
  const region = target.stateMachineArn.split(':')[3] as string;
  const raw = { ...request, requestedBy: request.requestedBy ?? caller.arn };
  let input: ChangeInput;
  try {
    input = parseChangeInput(JSON.parse(JSON.stringify(raw)), { account: caller.account, region }, 30);
  } catch (err) {
    throw new CliError(`${(err as Error).name}: ${(err as Error).message}`);
  }
  // Only what was given goes in: the workflow applies its own defaults, and the same command gives the same input.
  const payload = JSON.stringify(raw);
  const name = executionNameFor(input.changeId);
  try {
    const started = await target.sfn.send(
      new StartExecutionCommand({ stateMachineArn: target.stateMachineArn, name, input: payload }),
    );
    return { executionArn: started.executionArn as string, input };
  } catch (err) {
    if ((err as Error).name === 'ExecutionAlreadyExists') {
      throw new CliError(
        `change ${input.changeId} already has execution ${executionArn(target, name)} with other input or already finished; use a new change id`,
      );
    }
    throw err;
  }
}

export async function describe(target: Target, execution: string): Promise<DescribeExecutionCommandOutput> {
  try {
    return await target.sfn.send(new DescribeExecutionCommand({ executionArn: executionArn(target, execution) }));
  } catch (err) {
    if ((err as Error).name === 'ExecutionDoesNotExist') throw new CliError(`no execution ${execution}`);
    throw err;
  }
}

export const history = (target: Target, execution: string): Promise<HistoryEvent[]> =>
  readHistory(target.sfn, executionArn(target, execution));

async function waitingApproval(target: Target, execution: string): Promise<{ arn: string; task: PendingApprovalTask }> {
  const described = await describe(target, execution);
  if (described.status !== 'RUNNING') {
    throw new CliError(`execution ${described.name} is ${described.status}: there is nothing to decide`);
  }
  const task = pendingApproval(await history(target, execution));
  if (!task) throw new CliError(`execution ${described.name} is not waiting for an approval yet`);
  return { arn: described.executionArn as string, task };
}

/** Approves as the caller; the requester of a change can never approve it. */
export async function approve(
  target: Target,
  execution: string,
  comment?: string,
): Promise<{ approver: string; approvals: number; quorum: number }> {
  const { task } = await waitingApproval(target, execution);
  const me = await callerIdentity(target);
  if (me.arn === task.input.requestedBy) {
    throw new CliError(`you (${me.arn}) requested change ${task.input.changeId}: another person must approve it`);
  }
  const why = refusal(me.arn, task.approval.approvals, task.input, task.rules);
  if (why) throw new CliError(why);
  const output = withApproval(task.plan.digest, task.approval.approvals, { approver: me.arn, channel: 'cli', comment });
  await sendTask(() =>
    target.sfn.send(new SendTaskSuccessCommand({ taskToken: task.taskToken, output: JSON.stringify(output) })),
  );
  return { approver: me.arn, approvals: output.approvals.length, quorum: task.rules.quorum };
}

export async function reject(target: Target, execution: string, comment: string): Promise<{ rejectedBy: string }> {
  const { task } = await waitingApproval(target, execution);
  const me = await callerIdentity(target);
  await sendTask(() =>
    target.sfn.send(new SendTaskFailureCommand({ taskToken: task.taskToken, ...rejection(me.arn, 'cli', comment) })),
  );
  return { rejectedBy: me.arn };
}

async function sendTask(send: () => Promise<unknown>): Promise<void> {
  try {
    await send();
  } catch (err) {
    if ((err as Error).name === 'TaskDoesNotExist' || (err as Error).name === 'TaskTimedOut') {
      throw new CliError('the approval was already decided or timed out');
    }
    throw err;
  }
}

/** Executions waiting for an approval, with their plans. */
export async function pendingApprovals(target: Target): Promise<{ executionArn: string; task: PendingApprovalTask }[]> {
  const running = await target.sfn.send(
    new ListExecutionsCommand({ stateMachineArn: target.stateMachineArn, statusFilter: 'RUNNING', maxResults: 100 }),
  );
  const found = [];
  for (const e of running.executions ?? []) {
    const task = pendingApproval(await history(target, e.executionArn as string));
    if (task) found.push({ executionArn: e.executionArn as string, task });
  }
  return found;
}

/** The states an execution went through so far, from its history. */
export function progress(events: HistoryEvent[]): { entered: string[]; current?: string } {
  const entered: string[] = [];
  let current: string | undefined;
  for (const e of events) {
    if (e.type?.endsWith('StateEntered')) {
      const name = e.stateEnteredEventDetails?.name as string;
      entered.push(name);
      current = name;
    }
    if (e.type?.endsWith('StateExited')) current = undefined;
  }
  return { entered, ...(current && { current }) };
}
