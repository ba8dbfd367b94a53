import {
  DescribeExecutionCommand,
  GetExecutionHistoryCommand,
  ListExecutionsCommand,
  SendTaskFailureCommand,
  SendTaskSuccessCommand,
  SFNClient,
  StartExecutionCommand,
  type HistoryEvent,
} from '@aws-sdk/client-sfn';
import { mockClient } from 'aws-sdk-client-mock';
import { ChangeClient } from '../../../core/change-client';
import type { ChangeEvent } from '../../../core/change-events';
import { ChangeError } from '../../../core/errors';
import { testAttestor } from '../../helpers/attestor';
import { approvalScheduled, windowHeld } from '../../helpers/history';
import { input, planFor, snapshot } from '../../helpers/kms-fixtures';
import { sfnCall } from '../../../functions/runtime/aws';

const MACHINE = 'arn:aws:states:us-east-1:111122223333:stateMachine:KeymatDeletion';
const EXECUTION = 'arn:aws:states:us-east-1:111122223333:execution:KeymatDeletion:keymat-CHG-1';
const sfn = mockClient(SFNClient);
const client = new ChangeClient({
  sfn: sfnCall(new SFNClient({ region: 'us-east-1' })),
  stateMachineArn: MACHINE,
  attestor: testAttestor(),
});
const named = (name: string): Error => Object.assign(new Error(name), { name });
const request = { keyId: 'k', changeId: 'CHG-1', reason: 'retire', requestedBy: 'alice' };
const plan = planFor(snapshot());
const task = {
  taskToken: 'token-1',
  input: input({ requestedBy: 'alice' }),
  plan,
  approval: { planDigest: plan.digest, approvals: [] },
  recovery: {},
};
const scheduled: HistoryEvent = approvalScheduled(EXECUTION, task);

async function errorOf(f: () => Promise<unknown>): Promise<ChangeError> {
  try {
    await f();
  } catch (err) {
    if (err instanceof ChangeError) return err;
    throw err;
  }
  throw new Error('expected a ChangeError');
}

beforeEach(() => sfn.reset());

it('refuses an execution ARN of another state machine as ExecutionNotFound', () => {
  const other = 'arn:aws:states:us-east-1:111122223333:execution:OtherMachine:keymat-CHG-1';
  expect(() => client.executionArn(other)).toThrow(expect.objectContaining({ code: 'ExecutionNotFound' }));
  expect(client.executionArn(EXECUTION)).toBe(EXECUTION);
});

describe('start', () => {
  it('starts the change under its execution name when none exists', async () => {
    sfn.on(DescribeExecutionCommand).rejects(named('ExecutionDoesNotExist'));
    sfn.on(StartExecutionCommand).resolves({ executionArn: EXECUTION, startDate: new Date() });
    expect(await client.start('CHG-1', request)).toEqual({ executionArn: EXECUTION, state: 'STARTED' });
    expect(sfn.commandCalls(StartExecutionCommand)[0]?.args[0].input).toEqual({
      stateMachineArn: MACHINE,
      name: 'keymat-CHG-1',
      input: JSON.stringify(request),
    });
  });

  it('returns the running execution for the same input again, whatever the key order, and starts nothing', async () => {
    const reordered = JSON.stringify({ requestedBy: 'alice', reason: 'retire', changeId: 'CHG-1', keyId: 'k' });
    sfn.on(DescribeExecutionCommand).resolves({ executionArn: EXECUTION, status: 'RUNNING', input: reordered });
    expect(await client.start('CHG-1', request)).toEqual({ executionArn: EXECUTION, state: 'RUNNING' });
    expect(sfn.commandCalls(StartExecutionCommand)).toHaveLength(0);
  });

  it('returns the running execution for the same change attested at another time', async () => {
    const earlier = { ...request, attestation: { at: '2026-01-01T00:00:00.000Z', channel: 'cli', mac: 'AAAA' } };
    sfn
      .on(DescribeExecutionCommand)
      .resolves({ executionArn: EXECUTION, status: 'RUNNING', input: JSON.stringify(earlier) });
    const now = { ...request, attestation: { at: '2026-01-01T00:05:00.000Z', channel: 'cli', mac: 'BBBB' } };
    expect(await client.start('CHG-1', now)).toEqual({ executionArn: EXECUTION, state: 'RUNNING' });
    expect(sfn.commandCalls(StartExecutionCommand)).toHaveLength(0);
  });

  it('reports a finished execution of the same input, and starts nothing', async () => {
    sfn
      .on(DescribeExecutionCommand)
      .resolves({ executionArn: EXECUTION, status: 'SUCCEEDED', input: JSON.stringify(request) });
    expect(await client.start('CHG-1', request)).toEqual({
      executionArn: EXECUTION,
      state: 'FINISHED',
      status: 'SUCCEEDED',
    });
    expect(sfn.commandCalls(StartExecutionCommand)).toHaveLength(0);
  });

  it('refuses other input under a used change id with ChangeIdInUse, and starts nothing', async () => {
    sfn
      .on(DescribeExecutionCommand)
      .resolves({ executionArn: EXECUTION, status: 'RUNNING', input: JSON.stringify({ ...request, reason: 'x' }) });
    const err = await errorOf(() => client.start('CHG-1', request));
    expect(err.code).toBe('ChangeIdInUse');
    expect(err.message).toBe(`change CHG-1 already has execution ${EXECUTION} with other input; use a new change id`);
    expect(sfn.commandCalls(StartExecutionCommand)).toHaveLength(0);
  });

  it('looks again when another caller started the same change in between', async () => {
    sfn
      .on(DescribeExecutionCommand)
      .rejectsOnce(named('ExecutionDoesNotExist'))
      .resolves({ executionArn: EXECUTION, status: 'RUNNING', input: JSON.stringify(request) });
    sfn.on(StartExecutionCommand).rejects(named('ExecutionAlreadyExists'));
    expect(await client.start('CHG-1', request)).toEqual({ executionArn: EXECUTION, state: 'RUNNING' });
  });
});

describe('describe, status and watch', () => {
  it('refuses an execution that does not exist with ExecutionNotFound, naming what was asked for', async () => {
    sfn.on(DescribeExecutionCommand).rejects(named('ExecutionDoesNotExist'));
    const err = await errorOf(() => client.describe('keymat-NOPE'));
    expect(err).toMatchObject({ code: 'ExecutionNotFound', message: 'no execution keymat-NOPE' });
    expect(sfn.commandCalls(DescribeExecutionCommand)[0]?.args[0].input.executionArn).toBe(
      `${MACHINE.replace(':stateMachine:', ':execution:')}:keymat-NOPE`,
    );
  });

  it('passes other errors through', async () => {
    sfn.on(DescribeExecutionCommand).rejects(named('AccessDeniedException'));
    await expect(client.describe(EXECUTION)).rejects.toMatchObject({ name: 'AccessDeniedException' });
  });

  it('watches until the execution ends, yielding each look', async () => {
    sfn
      .on(DescribeExecutionCommand)
      .resolvesOnce({ executionArn: EXECUTION, name: 'keymat-CHG-1', status: 'RUNNING' })
      .resolves({ executionArn: EXECUTION, name: 'keymat-CHG-1', status: 'SUCCEEDED' });
    sfn.on(GetExecutionHistoryCommand).resolves({
      events: [{ type: 'TaskStateEntered', id: 1, timestamp: new Date(), stateEnteredEventDetails: { name: 'A' } }],
    });
    const statuses: (string | undefined)[] = [];
    for await (const look of client.watch(EXECUTION, { intervalMs: 1 })) {
      statuses.push(look.described.status);
      expect(look.entered).toEqual(['A']);
      expect(look.current).toBe('A');
    }
    expect(statuses).toEqual(['RUNNING', 'SUCCEEDED']);
  });
});

describe('approvals', () => {
  const running = () => {
    sfn.on(DescribeExecutionCommand).resolves({ executionArn: EXECUTION, name: 'keymat-CHG-1', status: 'RUNNING' });
    sfn.on(GetExecutionHistoryCommand).resolves({ events: [scheduled] });
  };

  it('finds the task a running execution waits on', async () => {
    running();
    expect(await client.waitingApproval('keymat-CHG-1')).toEqual({ executionArn: EXECUTION, task });
  });

  it('refuses a finished execution with NothingToDecide', async () => {
    sfn.on(DescribeExecutionCommand).resolves({ executionArn: EXECUTION, name: 'keymat-CHG-1', status: 'SUCCEEDED' });
    const err = await errorOf(() => client.waitingApproval('keymat-CHG-1'));
    expect(err).toMatchObject({
      code: 'NothingToDecide',
      message: 'execution keymat-CHG-1 is SUCCEEDED: there is nothing to decide',
    });
  });

  it('lists the running executions that wait for an approval', async () => {
    running();
    sfn.on(ListExecutionsCommand).resolves({
      executions: [
        {
          executionArn: EXECUTION,
          stateMachineArn: MACHINE,
          name: 'keymat-CHG-1',
          status: 'RUNNING',
          startDate: new Date(),
        },
      ],
    });
    expect(await client.pending()).toEqual({
      proofs: [],
      approvals: [{ executionArn: EXECUTION, task }],
      windows: [],
    });
  });

  it('answers an approval with the approvals so far plus this one, attested for its round', async () => {
    sfn.on(SendTaskSuccessCommand).resolves({});
    const { output: result } = await client.approve(EXECUTION, task, { by: 'bob', channel: 'cli', comment: 'ok' });
    expect(result.approvals).toEqual([
      { approver: 'bob', at: expect.any(String), channel: 'cli', comment: 'ok', round: 1, mac: expect.any(String) },
    ]);
    const sent = sfn.commandCalls(SendTaskSuccessCommand)[0]?.args[0].input;
    expect(sent?.taskToken).toBe('token-1');
    expect(JSON.parse(sent?.output ?? '')).toEqual(result);
  });

  it('refuses the requester with ApprovalRefused and sends nothing', async () => {
    const err = await errorOf(() => client.approve(EXECUTION, task, { by: 'alice', channel: 'cli' }));
    expect(err).toMatchObject({ code: 'ApprovalRefused', message: expect.stringContaining('alice cannot approve') });
    expect(sfn.commandCalls(SendTaskSuccessCommand)).toHaveLength(0);
  });

  it('reports a round answered meanwhile as AlreadyDecided', async () => {
    sfn.on(SendTaskFailureCommand).rejects(named('TaskTimedOut'));
    const err = await errorOf(() => client.reject(EXECUTION, task, { by: 'bob', channel: 'web', comment: 'no' }));
    expect(err.code).toBe('AlreadyDecided');
    expect(sfn.commandCalls(SendTaskFailureCommand)[0]?.args[0].input).toEqual({
      taskToken: 'token-1',
      error: 'ApprovalRejected',
      cause: 'rejected by bob (web): no',
    });
  });

  it('lets the requester withdraw the change', async () => {
    sfn.on(SendTaskFailureCommand).resolves({});
    expect(await client.reject(EXECUTION, task, { by: 'alice', channel: 'cli' })).toEqual({ as: 'REQUESTER' });
    expect(sfn.commandCalls(SendTaskFailureCommand)[0]?.args[0].input).toMatchObject({ error: 'ApprovalRejected' });
  });

  it('refuses a rejection by someone outside the allowed approvers and sends nothing', async () => {
    const listed = { ...task, plan: { ...plan, rules: { quorum: 1, allowedApprovers: ['bob'] } } };
    const err = await errorOf(() =>
      client.reject(EXECUTION, listed, { by: 'mallory', channel: 'cli', comment: 'veto' }),
    );
    expect(err.code).toBe('RejectionRefused');
    expect(sfn.commandCalls(SendTaskFailureCommand)).toHaveLength(0);
  });

  it('refuses to approve without an attestor: only keymat signers approve', async () => {
    const unsigned = new ChangeClient({
      sfn: sfnCall(new SFNClient({ region: 'us-east-1' })),
      stateMachineArn: MACHINE,
    });
    await expect(unsigned.approve(EXECUTION, task, { by: 'bob', channel: 'cli' })).rejects.toThrow(/no attestor/);
    expect(sfn.commandCalls(SendTaskSuccessCommand)).toHaveLength(0);
  });
});

describe('a change held by its change window', () => {
  const window = {
    calendars: ['arn:aws:ssm:us-east-1:111122223333:document/freeze'],
    state: 'CLOSED' as const,
    checkedAt: '2026-12-06T10:00:00.000Z',
    since: '2026-12-06T10:00:00.000Z',
    deadline: '2026-12-13T10:00:00.000Z',
    waitUntil: '2026-12-07T08:00:00.000Z',
    waitSeconds: 79_200,
  };
  const approved = {
    planDigest: plan.digest,
    approvals: [{ approver: 'bob', at: '2026-12-06T09:59:00.000Z', channel: 'cli', round: 1, mac: 'bWFj' }],
  };
  const held = { ...task, taskToken: 'hold-token', approval: approved, changeWindow: window };
  const holding = () => {
    sfn.on(DescribeExecutionCommand).resolves({ executionArn: EXECUTION, name: 'keymat-CHG-1', status: 'RUNNING' });
    const answered: HistoryEvent = { type: 'TaskSucceeded', id: 6, timestamp: new Date() };
    sfn.on(GetExecutionHistoryCommand).resolves({ events: [scheduled, answered, ...windowHeld(EXECUTION, held)] });
  };

  it('refuses an approval NothingToDecide, saying the change is approved and until when it is held', async () => {
    holding();
    const err = await errorOf(() => client.waitingApproval('keymat-CHG-1'));
    expect(err).toMatchObject({
      code: 'NothingToDecide',
      message:
        'execution keymat-CHG-1 is approved; held by its change window (freeze CLOSED) until 2026-12-07T08:00:00.000Z, when it is checked again: there is nothing to approve (reject it to withdraw it)',
    });
  });

  it("finds the hold's token for a rejection, with the change, its plan and its approvals", async () => {
    holding();
    expect(await client.waitingRejection('keymat-CHG-1')).toEqual({ executionArn: EXECUTION, task: held });
  });

  it("rejects on the hold's token, deciding in the round after the last approval", async () => {
    sfn.on(SendTaskFailureCommand).resolves({});
    const published: ChangeEvent[] = [];
    const withEvents = new ChangeClient({
      sfn: sfnCall(new SFNClient({ region: 'us-east-1' })),
      stateMachineArn: MACHINE,
      events: { publish: async (...e: ChangeEvent[]) => void published.push(...e) },
    });
    expect(await withEvents.reject(EXECUTION, held, { by: 'alice', channel: 'cli', comment: 'later' })).toEqual({
      as: 'REQUESTER',
    });
    expect(sfn.commandCalls(SendTaskFailureCommand)[0]?.args[0].input).toEqual({
      taskToken: 'hold-token',
      error: 'ApprovalRejected',
      cause: 'withdrawn by the requester alice (cli): later',
    });
    expect(published.map((e) => e.detail)).toEqual([
      expect.objectContaining({ decision: 'REJECTED', round: 2, decidedBy: 'alice', as: 'REQUESTER' }),
    ]);
  });

  it('finds nothing to reject once the hold timed out and the change is checked again', async () => {
    sfn.on(DescribeExecutionCommand).resolves({ executionArn: EXECUTION, name: 'keymat-CHG-1', status: 'RUNNING' });
    const timedOut: HistoryEvent = { type: 'TaskTimedOut', id: 22, timestamp: new Date() };
    const checking: HistoryEvent = {
      type: 'TaskStateEntered',
      id: 23,
      timestamp: new Date(),
      stateEnteredEventDetails: { name: 'CheckChangeWindow' },
    };
    sfn.on(GetExecutionHistoryCommand).resolves({ events: [...windowHeld(EXECUTION, held), timedOut, checking] });
    const err = await errorOf(() => client.waitingRejection('keymat-CHG-1'));
    expect(err.code).toBe('NothingToDecide');
  });
});

describe('Approval Decided', () => {
  /** A client whose events are recorded, publishing through `publish` when one is given. */
  const recording = (publish?: () => Promise<void>) => {
    const published: ChangeEvent[] = [];
    const events = {
      publish: async (...e: ChangeEvent[]) => {
        await publish?.();
        published.push(...e);
      },
    };
    const withEvents = new ChangeClient({
      sfn: sfnCall(new SFNClient({ region: 'us-east-1' })),
      stateMachineArn: MACHINE,
      attestor: testAttestor(),
      events,
    });
    return { client: withEvents, published };
  };
  /** Step Functions takes the first answer to the token and refuses every later one, as it does a closed task. */
  const oneAnswerTaken = () => {
    let taken = false;
    const take = () => {
      if (taken) throw named('TaskDoesNotExist');
      taken = true;
      return {};
    };
    sfn.on(SendTaskSuccessCommand).callsFake(take);
    sfn.on(SendTaskFailureCommand).callsFake(take);
  };

  it.each([
    ['two approvers', 'carol'],
    ['one approver on two tabs', 'bob'],
  ])('is published for the answer that won a race, and not for the one that lost it (%s)', async (_case, rejecter) => {
    oneAnswerTaken();
    const { client: racing, published } = recording();
    const answers = await Promise.allSettled([
      racing.approve(EXECUTION, task, { by: 'bob', channel: 'cli' }),
      racing.reject(EXECUTION, task, { by: rejecter, channel: 'web', comment: 'not today' }),
    ]);
    const won = answers.findIndex((a) => a.status === 'fulfilled');
    const lost = answers.find((a) => a.status === 'rejected');
    expect(answers.filter((a) => a.status === 'fulfilled')).toHaveLength(1);
    expect(lost?.reason).toMatchObject({ code: 'AlreadyDecided' });
    expect(published.map((e) => e.detail)).toEqual([
      won === 0
        ? expect.objectContaining({ decision: 'APPROVED', decidedBy: 'bob', round: 1 })
        : expect.objectContaining({ decision: 'REJECTED', decidedBy: rejecter, round: 1 }),
    ]);
  });

  it('is dated at the approval’s attested time', async () => {
    sfn.on(SendTaskSuccessCommand).resolves({});
    const { client: approving, published } = recording();
    const { output } = await approving.approve(EXECUTION, task, { by: 'bob', channel: 'cli' });
    expect(published[0]?.detail.occurredAt).toBe(output.approvals[0]?.at);
  });

  it('reports an event EventBridge did not take without failing the decision that took effect', async () => {
    sfn.on(SendTaskSuccessCommand).resolves({});
    const refused = Object.assign(new Error('not taken'), { name: 'EventNotPublished' });
    const { client: approving, published } = recording(() => Promise.reject(refused));
    const decided = await approving.approve(EXECUTION, task, { by: 'bob', channel: 'cli' });
    expect(sfn.commandCalls(SendTaskSuccessCommand)).toHaveLength(1);
    expect(published).toEqual([]);
    expect(decided.notPublished).toEqual({
      event: expect.objectContaining({ detailType: 'Approval Decided' }),
      error: refused,
    });
  });
});
