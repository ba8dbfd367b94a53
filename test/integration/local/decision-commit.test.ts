import { DescribeExecutionCommand, GetExecutionHistoryCommand, SFNClient } from '@aws-sdk/client-sfn';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createExternalKey, localKmsClient } from '../../../local/kms/byok';
import { LocalStack } from '../../../local/services/server';
import { LocalStateError, StateStore } from '../../../local/state/store';
import { prepareWorkflow } from '../../../local/workflow/workflow';
import { gatewayAs, waitForApprovalRound } from '../../helpers/changes';
import { DEFAULT_REGION, LOCAL_CREDENTIALS } from '../../../local/constants';

/**
 * The local Step Functions acknowledges SendTaskSuccess only once the decision is in the state database: a stack
 * killed right after the answer still shows the approval, and one that cannot write it refuses it.
 */
let dir: string;
let stack: LocalStack;
let sfn: SFNClient;

beforeEach(async () => {
  dir = mkdtempSync(join(tmpdir(), 'keymat-decision-'));
  stack = await LocalStack.start({
    stateDir: dir,
    // No recovery proof: each change goes straight to its approval round, whose answer is what is tested.
    workflow: (endpoint) => prepareWorkflow(endpoint, { approvalTimeoutSeconds: 120, quorum: 2, recoveryProof: 'off' }),
  });
  sfn = new SFNClient({ endpoint: stack.endpoint, region: DEFAULT_REGION, credentials: LOCAL_CREDENTIALS });
});
afterEach(async () => {
  jest.restoreAllMocks();
  sfn.destroy();
  await stack.close();
  rmSync(dir, { recursive: true, force: true });
});

async function changeWaitingForApproval(changeId: string): Promise<string> {
  const key = await createExternalKey(localKmsClient(stack.endpoint), { materialDir: join(dir, 'byok') });
  const started = await gatewayAs(stack.endpoint, 'alice', '/changes', {
    keyId: key.keyArn,
    changeId,
    reason: 'decision commit',
    waitSeconds: 0,
  });
  const { executionArn } = started.body as { executionArn: string };
  await waitForApprovalRound(stack.endpoint, executionArn);
  return executionArn;
}

/** The RequestApproval decisions in the execution's history as the state database holds it, read apart. */
function committedDecisions(executionArn: string): string[] {
  const reader = StateStore.open(dir, { readOnly: true });
  try {
    return (reader.loadExecutions()[executionArn]?.events ?? [])
      .filter((e) => e.type === 'TaskSucceeded' || e.type === 'TaskFailed')
      .map((e) => e.type);
  } finally {
    reader.close();
  }
}

it('has the approval in the state database when the approver is answered', async () => {
  const executionArn = await changeWaitingForApproval('CHG-COMMIT');
  let onDiskWhenAnswered: string[] | undefined;
  const approved = gatewayAs(stack.endpoint, 'bob', '/approve', { execution: executionArn }).then((answer) => {
    // Read the moment the answer arrives, before the engine runs on.
    onDiskWhenAnswered = committedDecisions(executionArn);
    return answer;
  });
  expect((await approved).status).toBe(200);
  expect(onDiskWhenAnswered).toEqual(['TaskSucceeded']);
  // One record of the decision in the history, not the answer's and the engine's.
  await waitForApprovalRound(stack.endpoint, executionArn, 1);
  const { events = [] } = await sfn.send(new GetExecutionHistoryCommand({ executionArn }));
  expect(events.filter((e) => e.type === 'TaskSucceeded')).toHaveLength(1);
});

it('refuses an approval it cannot commit, leaving the change waiting for it', async () => {
  const executionArn = await changeWaitingForApproval('CHG-FULL');
  const save = jest.spyOn(StateStore.prototype, 'saveExecutions').mockImplementation(() => {
    throw new LocalStateError('could not save an execution in state.db: the disk is full (SQLITE_FULL)');
  });
  const refused = await gatewayAs(stack.endpoint, 'bob', '/approve', { execution: executionArn });
  expect(refused.status).toBeGreaterThanOrEqual(500);
  expect(save).toHaveBeenCalled();
  save.mockRestore();

  expect((await sfn.send(new DescribeExecutionCommand({ executionArn }))).status).toBe('RUNNING');
  expect(committedDecisions(executionArn)).toEqual([]);
  expect((await gatewayAs(stack.endpoint, 'bob', '/approve', { execution: executionArn })).status).toBe(200);
  expect(committedDecisions(executionArn)).toEqual(['TaskSucceeded']);
});
