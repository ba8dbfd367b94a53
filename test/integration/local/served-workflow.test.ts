import {
  DescribeExecutionCommand,
  GetExecutionHistoryCommand,
  SendTaskSuccessCommand,
  StartExecutionCommand,
  SFNClient,
} from '@aws-sdk/client-sfn';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { createExternalKey, localKmsClient } from '../../../local/kms/byok';
import { LocalStack } from '../../../local/services/server';
import { readEventsOutbox } from '../../../local/state/store';
import { prepareWorkflow } from '../../../local/workflow/workflow';
import { gatewayAs } from '../../helpers/changes';
import { errorOf, keymatSfnClient } from '../../helpers/local-stack';
import { DEFAULT_REGION, LOCAL_CREDENTIALS } from '../../../local/constants';

/**
 * The workflow as `keymat local serve` serves it: changes started and approved through the gateway as the signer of
 * each request, and one task token per approval round.
 */
let dir: string;
let stack: LocalStack;
let sfn: SFNClient;
/** Holds states:SendTask* and states:StartExecution, as keymat's roles do. */
let holder: SFNClient;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'keymat-served-'));
  stack = await LocalStack.start({
    stateDir: dir,
    workflow: (endpoint) => prepareWorkflow(endpoint, { recoveryProof: 'off', approvalTimeoutSeconds: 120, quorum: 2 }),
  });
  sfn = new SFNClient({ endpoint: stack.endpoint, region: DEFAULT_REGION, credentials: LOCAL_CREDENTIALS });
  holder = keymatSfnClient(stack.endpoint, dir);
});
afterAll(async () => {
  await stack.close();
  rmSync(dir, { recursive: true, force: true });
});

/** A POST to the gateway signed (as far as the local stack reads a signature) by `user`. */
const gateway = (route: string, body: unknown, user: string) => gatewayAs(stack.endpoint, user, route, body);

/** The task tokens of the execution's RequestApproval rounds so far, waiting until there are `rounds` of them. */
async function tokens(executionArn: string, rounds: number): Promise<string[]> {
  for (let i = 0; i < 200; i++) {
    const { events = [] } = await sfn.send(new GetExecutionHistoryCommand({ executionArn }));
    const found = events
      .filter((e) => e.type === 'TaskScheduled')
      .map((e) => JSON.parse(e.taskScheduledEventDetails!.parameters!) as { Payload: { taskToken: string } })
      .map((p) => p.Payload.taskToken);
    if (found.length >= rounds) return found;
    await sleep(25);
  }
  throw new Error(`execution ${executionArn} did not reach approval round ${rounds}`);
}

async function finished(executionArn: string) {
  for (let i = 0; i < 400; i++) {
    const described = await sfn.send(new DescribeExecutionCommand({ executionArn }));
    if (described.status !== 'RUNNING') return described;
    await sleep(25);
  }
  throw new Error(`execution ${executionArn} did not finish`);
}

it('starts as the signer, takes each round on its own token, and deletes after two attested approvals', async () => {
  const key = await createExternalKey(localKmsClient(stack.endpoint), { materialDir: join(dir, 'byok') });
  const started = await gateway(
    '/changes',
    { keyId: key.keyArn, changeId: 'CHG-ROUNDS', reason: 'rounds', waitSeconds: 0 },
    'alice',
  );
  expect(started.status).toBe(200);
  const { executionArn } = started.body as { executionArn: string };
  const input = JSON.parse((await sfn.send(new DescribeExecutionCommand({ executionArn }))).input!) as {
    requestedBy: string;
    attestation: { channel: string; mac: string };
  };
  expect(input.requestedBy).toBe('arn:aws:iam::111122223333:user/alice');
  expect(input.attestation.mac).not.toBe('');

  const [round1] = await tokens(executionArn, 1);
  expect((await gateway('/approve', { execution: executionArn }, 'bob')).status).toBe(200);
  const [first, round2] = await tokens(executionArn, 2);
  expect(first).toBe(round1);
  expect(round2).not.toBe(round1);

  // Round 1's answer, replayed in round 2, is not an answer to round 2.
  const replay = await errorOf(() =>
    holder.send(new SendTaskSuccessCommand({ taskToken: round1, output: JSON.stringify({ approvals: [] }) })),
  );
  expect(replay.name).toBe('TaskDoesNotExist');
  expect((await sfn.send(new DescribeExecutionCommand({ executionArn }))).status).toBe('RUNNING');

  expect((await gateway('/approve', { execution: executionArn }, 'carol')).status).toBe(200);
  const end = await finished(executionArn);
  expect(end.status).toBe('SUCCEEDED');
  expect(JSON.parse(end.output!)).toMatchObject({ status: 'DELETED' });
  // Each task called KMS as its own function's role.
  const callers = stack.requestLog
    .read()
    .filter((e) => e.service === 'kms' && ['DeleteImportedKeyMaterial', 'DescribeKey'].includes(e.operation))
    .map((e) => `${e.operation} ${e.caller}`);
  expect(callers).toEqual(
    expect.arrayContaining([
      'DescribeKey arn:aws:sts::111122223333:assumed-role/keymat-ValidateOrigin/keymat-ValidateOrigin',
      'DeleteImportedKeyMaterial arn:aws:sts::111122223333:assumed-role/keymat-DeleteMaterial/keymat-DeleteMaterial',
    ]),
  );

  // The change's events, once each and in order of when they happened (a decision's event follows its hand-over, so it
  // may arrive after the events the decision set off); the gateway's decisions name the authenticated signers.
  const events = readEventsOutbox(dir)
    .filter((e) => e.detail.executionArn === executionArn)
    .sort((a, b) => Date.parse(String(a.detail.occurredAt)) - Date.parse(String(b.detail.occurredAt)));
  expect(events.map((e) => [e.detailType, e.detail.round ?? null, e.detail.decidedBy ?? null])).toEqual([
    ['Deletion Planned', null, null],
    ['Approval Requested', 1, null],
    ['Approval Decided', 1, 'arn:aws:iam::111122223333:user/bob'],
    ['Approval Requested', 2, null],
    ['Approval Decided', 2, 'arn:aws:iam::111122223333:user/carol'],
    ['Deletion Announced', null, null],
    ['Key Material Deleted', null, null],
  ]);
});

it('refuses a requester named in the body: the signer is the requester', async () => {
  const answer = await gateway(
    '/changes',
    { keyId: 'x', changeId: 'CHG-NAMED', reason: 'r', requestedBy: 'arn:aws:iam::111122223333:user/bob' },
    'alice',
  );
  expect(answer.status).toBe(400);
  expect(answer.body).toMatchObject({ error: 'InvalidInput' });
  const missing = await errorOf(() =>
    sfn.send(
      new DescribeExecutionCommand({
        executionArn: `arn:aws:states:us-east-1:111122223333:execution:keymat-deletion:keymat-CHG-NAMED`,
      }),
    ),
  );
  expect(missing.name).toBe('ExecutionDoesNotExist');
});

it('ends a raw StartExecution that names its own requester StartNotAttested, deleting nothing', async () => {
  const key = await createExternalKey(localKmsClient(stack.endpoint), { materialDir: join(dir, 'byok') });
  const { executionArn } = await holder.send(
    new StartExecutionCommand({
      stateMachineArn: stack.stateMachineArn,
      name: 'keymat-CHG-FORGED',
      input: JSON.stringify({ keyId: key.keyArn, changeId: 'CHG-FORGED', reason: 'forged', requestedBy: 'alice' }),
    }),
  );
  const end = await finished(executionArn!);
  expect(end.status).toBe('FAILED');
  expect(end.error).toBe('StartNotAttested');
  const deletes = stack.requestLog
    .read()
    .filter((e) => e.operation === 'DeleteImportedKeyMaterial' && e.keyId === key.keyArn);
  expect(deletes).toHaveLength(0);
});
