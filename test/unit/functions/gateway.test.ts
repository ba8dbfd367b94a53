import {
  DescribeExecutionCommand,
  GetExecutionHistoryCommand,
  SendTaskFailureCommand,
  SendTaskSuccessCommand,
  SFNClient,
  StartExecutionCommand,
} from '@aws-sdk/client-sfn';
import { GetAutomationExecutionCommand, SSMClient } from '@aws-sdk/client-ssm';
import { mockClient } from 'aws-sdk-client-mock';
import { verifyApprovals } from '../../../core/approvals';
import { verifyStart } from '../../../core/attestation';
import { ChangeClient } from '../../../core/change-client';
import { createGateway, MAX_BODY_BYTES } from '../../../functions/gateway/gateway';
import { testAttestor } from '../../helpers/attestor';
import { approvalScheduled, windowHeld } from '../../helpers/history';
import { HUB_CONTEXT, KEY_ARN, input, planFor, snapshot } from '../../helpers/kms-fixtures';
import { silentLogger } from '../../helpers/task-deps';
import { sfnCall } from '../../../functions/runtime/aws';
import { createSsmClient } from '../../../functions/runtime/calendars';
import type { Members } from '../../../core/organisation';

const MACHINE = 'arn:aws:states:us-east-1:111122223333:stateMachine:keymat-deletion';
const EXECUTION = 'arn:aws:states:us-east-1:111122223333:execution:keymat-deletion:keymat-CHG-1';
const ALICE = 'arn:aws:iam::111122223333:user/alice';
const BOB = 'arn:aws:iam::111122223333:user/bob';
const sfn = mockClient(SFNClient);
const ssm = mockClient(SSMClient);
const attestor = testAttestor();
const gatewayOf = (members?: Members, custodians: string[] = []) =>
  createGateway({
    changes: new ChangeClient({
      sfn: sfnCall(new SFNClient({ region: 'us-east-1' })),
      stateMachineArn: MACHINE,
      attestor,
    }),
    attestor,
    ssm: createSsmClient({ region: 'us-east-1' }),
    config: {
      stateMachineArn: MACHINE,
      attestationKeyArn: 'arn:attestation',
      sessionBoundRoles: [],
      custodians,
      eventBusName: 'default',
      ...(members && { members }),
    },
    logger: silentLogger(),
  });
const gateway = gatewayOf();
const named = (name: string): Error => Object.assign(new Error(name), { name });

/** A Function URL request as Lambda hands it over after checking the SigV4 signature of `caller`. */
const signedBy = (caller: string, rawPath: string, body: unknown, method = 'POST') => ({
  rawPath,
  body: typeof body === 'string' ? body : JSON.stringify(body),
  isBase64Encoded: false,
  requestContext: { http: { method }, authorizer: { iam: { userArn: caller } } },
});
const answer = async (event: unknown) => {
  const response = (await gateway(event)) as { statusCode: number; body: string };
  return { status: response.statusCode, body: JSON.parse(response.body) as Record<string, unknown> };
};
const start = { keyId: KEY_ARN, changeId: 'CHG-1', reason: 'retire old material' };

const plan = planFor(snapshot(), undefined, { ...HUB_CONTEXT, rules: { quorum: 1, allowedApprovers: [BOB] } });
const pendingTask = {
  taskToken: 'token-1',
  input: input({ requestedBy: ALICE }),
  plan,
  approval: { planDigest: plan.digest, approvals: [] },
  recovery: {},
};
function waitingForApproval() {
  sfn.on(DescribeExecutionCommand).resolves({ executionArn: EXECUTION, name: 'keymat-CHG-1', status: 'RUNNING' });
  sfn.on(GetExecutionHistoryCommand).resolves({ events: [approvalScheduled(EXECUTION, pendingTask)] });
}

beforeEach(() => {
  sfn.reset();
  ssm.reset();
});

describe('starting a change', () => {
  beforeEach(() => {
    sfn.on(DescribeExecutionCommand).rejects(named('ExecutionDoesNotExist'));
    sfn.on(StartExecutionCommand).resolves({ executionArn: EXECUTION, startDate: new Date() });
  });

  it('makes the signed caller the requester and attests the start', async () => {
    expect(await answer(signedBy(ALICE, '/changes', start))).toEqual({
      status: 200,
      body: { executionArn: EXECUTION, state: 'STARTED' },
    });
    const sent = sfn.commandCalls(StartExecutionCommand)[0]?.args[0].input;
    const startedInput = JSON.parse(sent?.input ?? '{}') as Record<string, unknown>;
    expect(startedInput).toMatchObject({ ...start, requestedBy: ALICE, attestation: { channel: 'cli' } });
    expect(await verifyStart(attestor, EXECUTION, startedInput, new Date())).toEqual(expect.any(String));
  });

  it('starts a restore with the restore field, attested as any start', async () => {
    const restore = { ...start, keyMaterialId: 'a'.repeat(64), restore: true };
    expect(await answer(signedBy(ALICE, '/changes', restore))).toMatchObject({ status: 200 });
    const sent = sfn.commandCalls(StartExecutionCommand)[0]?.args[0].input;
    const startedInput = JSON.parse(sent?.input ?? '{}') as Record<string, unknown>;
    expect(startedInput).toMatchObject({ restore: true, requestedBy: ALICE });
    expect(await verifyStart(attestor, EXECUTION, startedInput, new Date())).toEqual(expect.any(String));
  });

  it('starts a restore with its validTo, attested with the rest of the input', async () => {
    const validTo = `${new Date(Date.now() + 30 * 86_400_000).toISOString().slice(0, 19)}Z`;
    const restore = { ...start, keyMaterialId: 'a'.repeat(64), restore: true, validTo };
    expect(await answer(signedBy(ALICE, '/changes', restore))).toMatchObject({ status: 200 });
    const sent = sfn.commandCalls(StartExecutionCommand)[0]?.args[0].input;
    const startedInput = JSON.parse(sent?.input ?? '{}') as Record<string, unknown>;
    expect(startedInput).toMatchObject({ restore: true, validTo });
    expect(await verifyStart(attestor, EXECUTION, startedInput, new Date())).toEqual(expect.any(String));
    expect(
      await verifyStart(attestor, EXECUTION, { ...startedInput, validTo: '2027-01-01T00:00:00Z' }, new Date()),
    ).toBeUndefined();
  });

  it.each([
    ['a past validTo', { restore: true, keyMaterialId: 'a'.repeat(64), validTo: '2020-01-01T00:00:00Z' }],
    ['a validTo on a deletion', { validTo: '2027-06-30T00:00:00Z' }],
  ])('refuses %s as InvalidInput naming validTo, and starts nothing', async (_l, over) => {
    const { status, body } = await answer(signedBy(ALICE, '/changes', { ...start, ...over }));
    expect(status).toBe(400);
    expect(body).toMatchObject({ error: 'InvalidInput', message: expect.stringMatching(/^validTo .*; got "/) });
    expect(sfn.commandCalls(StartExecutionCommand)).toHaveLength(0);
  });

  it('takes an assumed role as its role: the session name is the caller’s choice', async () => {
    await answer(signedBy('arn:aws:sts::111122223333:assumed-role/Operators/bob-pretending', '/changes', start));
    const sent = JSON.parse(sfn.commandCalls(StartExecutionCommand)[0]?.args[0].input.input ?? '{}') as {
      requestedBy: string;
    };
    expect(sent.requestedBy).toBe('arn:aws:iam::111122223333:role/Operators');
  });

  it('refuses a requestedBy in the body and starts nothing', async () => {
    const { status, body } = await answer(signedBy(ALICE, '/changes', { ...start, requestedBy: BOB }));
    expect(status).toBe(400);
    expect(body).toMatchObject({
      error: 'InvalidInput',
      message: expect.stringContaining('requestedBy is not accepted'),
    });
    expect(sfn.commandCalls(StartExecutionCommand)).toHaveLength(0);
  });

  it('refuses bad input naming the field, before anything starts', async () => {
    const { status, body } = await answer(signedBy(ALICE, '/changes', { ...start, keyId: 'alias/payroll' }));
    expect(status).toBe(400);
    expect(body.error).toBe('AliasNotAllowed');
    expect(sfn.commandCalls(StartExecutionCommand)).toHaveLength(0);
  });

  it('starts a change on a key of a member Region, and refuses a key of any other with KeyOutsideOrganisation', async () => {
    const hub = gatewayOf({ organizationId: 'o-a1b2c3d4e5', regions: ['eu-west-1'] });
    const memberKey = (region: string) => `arn:aws:kms:${region}:444455556666:key/1234abcd-12ab-34cd-56ef-1234567890ab`;
    const started = (await hub(signedBy(ALICE, '/changes', { ...start, keyId: memberKey('eu-west-1') }))) as {
      statusCode: number;
    };
    expect(started.statusCode).toBe(200);
    const refused = (await hub(signedBy(ALICE, '/changes', { ...start, keyId: memberKey('ap-south-1') }))) as {
      statusCode: number;
      body: string;
    };
    expect(refused.statusCode).toBe(400);
    expect(JSON.parse(refused.body)).toMatchObject({ error: 'KeyOutsideOrganisation' });
    expect(sfn.commandCalls(StartExecutionCommand)).toHaveLength(1);
  });

  it.each([
    ['a trailing space', `${ALICE} `],
    ['a Cyrillic letter', 'arn:aws:iam::111122223333:user/\u0430lice'],
    ['a no-break space', 'arn:aws:iam::111122223333:user/al\u00a0ice'],
  ])('refuses a caller ARN with %s as InvalidIdentity', async (_what, caller) => {
    const { status, body } = await answer(signedBy(caller, '/changes', start));
    expect(status).toBe(403);
    expect(body.error).toBe('InvalidIdentity');
    expect(sfn.commandCalls(StartExecutionCommand)).toHaveLength(0);
  });

  it('refuses a request without a SigV4 identity', async () => {
    const { status } = await answer({
      rawPath: '/changes',
      body: JSON.stringify(start),
      requestContext: { http: { method: 'POST' } },
    });
    expect(status).toBe(400);
    expect(sfn.commandCalls(StartExecutionCommand)).toHaveLength(0);
  });

  it('refuses a body over 16 KB before parsing it', async () => {
    const { status, body } = await answer(signedBy(ALICE, '/changes', 'x'.repeat(MAX_BODY_BYTES + 1)));
    expect(status).toBe(413);
    expect(body.error).toBe('RequestTooLarge');
  });

  it('refuses a body that is not JSON, and an unknown route', async () => {
    expect((await answer(signedBy(ALICE, '/changes', '{'))).status).toBe(400);
    expect((await answer(signedBy(ALICE, '/admin', {}))).status).toBe(404);
    expect((await answer(signedBy(ALICE, '/changes', start, 'GET'))).status).toBe(405);
  });
});

describe('deciding', () => {
  it('approves as the signed caller, attested for the execution and its round', async () => {
    waitingForApproval();
    sfn.on(SendTaskSuccessCommand).resolves({});
    const { status, body } = await answer(signedBy(BOB, '/approve', { execution: 'keymat-CHG-1', comment: 'ok' }));
    expect(status).toBe(200);
    expect(body).toMatchObject({ approver: BOB, approvals: 1, quorum: 1 });
    const output = JSON.parse(sfn.commandCalls(SendTaskSuccessCommand)[0]?.args[0].input.output ?? '{}');
    await expect(
      verifyApprovals(attestor, EXECUTION, output, plan, pendingTask.input, plan.rules),
    ).resolves.toBeUndefined();
  });

  it('refuses the requester approving their own change and sends nothing', async () => {
    waitingForApproval();
    const { status, body } = await answer(signedBy(ALICE, '/approve', { execution: 'keymat-CHG-1' }));
    expect(status).toBe(403);
    expect(body.error).toBe('ApprovalRefused');
    expect(sfn.commandCalls(SendTaskSuccessCommand)).toHaveLength(0);
  });

  it('ignores an approver named in the body', async () => {
    waitingForApproval();
    const { status } = await answer(signedBy(ALICE, '/approve', { execution: 'keymat-CHG-1', approver: BOB }));
    expect(status).toBe(400);
    expect(sfn.commandCalls(SendTaskSuccessCommand)).toHaveLength(0);
  });

  it('refuses a recovery proof that names its custodian in the body, and one for an execution not waiting for it', async () => {
    waitingForApproval();
    const copy = { wrappedKeyMaterial: 'AAAA', importToken: 'AAAA', wrappingAlgorithm: 'RSAES_OAEP_SHA_256' };
    const named = await answer(signedBy(BOB, '/recovery', { execution: 'keymat-CHG-1', ...copy, custodian: ALICE }));
    expect(named).toMatchObject({ status: 400, body: { error: 'InvalidInput' } });
    expect(JSON.stringify(named.body)).toContain('custodian');
    const notWaiting = await answer(signedBy(BOB, '/recovery', { execution: 'keymat-CHG-1', ...copy }));
    expect(notWaiting).toMatchObject({ status: 409, body: { error: 'NothingToDecide' } });
    expect(sfn.commandCalls(SendTaskSuccessCommand)).toHaveLength(0);
  });

  it('refuses a copy from anyone but the custodians, when they are listed, before reading the execution', async () => {
    const guarded = gatewayOf(undefined, ['arn:aws:iam::111122223333:user/carol*']);
    const copy = { wrappedKeyMaterial: 'AAAA', importToken: 'AAAA', wrappingAlgorithm: 'RSAES_OAEP_SHA_256' };
    const response = (await guarded(signedBy(BOB, '/recovery', { execution: 'keymat-CHG-1', ...copy }))) as {
      statusCode: number;
      body: string;
    };
    expect(response.statusCode).toBe(403);
    expect(JSON.parse(response.body)).toMatchObject({ error: 'ProofRefused' });
    expect(response.body).toContain(`${BOB} is not one of the custodians`);
    expect(sfn.calls()).toHaveLength(0);
    // A listed custodian gets past the check, to the execution (which waits for no copy here).
    const carol = (await guarded(
      signedBy('arn:aws:iam::111122223333:user/carol', '/recovery', { execution: 'keymat-CHG-1', ...copy }),
    )) as { statusCode: number; body: string };
    expect(JSON.parse(carol.body).error).not.toBe('ProofRefused');
  });

  it('lets the requester withdraw and refuses an outsider’s veto', async () => {
    waitingForApproval();
    sfn.on(SendTaskFailureCommand).resolves({});
    const outsider = await answer(
      signedBy('arn:aws:iam::111122223333:user/mallory', '/reject', { execution: 'keymat-CHG-1' }),
    );
    expect(outsider).toMatchObject({ status: 403, body: { error: 'RejectionRefused' } });
    expect(sfn.commandCalls(SendTaskFailureCommand)).toHaveLength(0);
    const withdrawn = await answer(signedBy(ALICE, '/reject', { execution: 'keymat-CHG-1', comment: 'not now' }));
    expect(withdrawn).toMatchObject({ status: 200, body: { as: 'REQUESTER' } });
  });

  it("rejects a change held by its change window on the hold's token, and answers its approval NothingToDecide", async () => {
    const approval = {
      planDigest: plan.digest,
      approvals: [{ approver: BOB, at: '2026-12-06T09:59:00.000Z', channel: 'cli', round: 1, mac: 'bWFj' }],
    };
    const changeWindow = {
      calendars: ['freeze'],
      state: 'CLOSED' as const,
      checkedAt: '2026-12-06T10:00:00.000Z',
      since: '2026-12-06T10:00:00.000Z',
      deadline: '2026-12-13T10:00:00.000Z',
      waitUntil: '2026-12-07T08:00:00.000Z',
      waitSeconds: 79_200,
    };
    sfn.on(DescribeExecutionCommand).resolves({ executionArn: EXECUTION, name: 'keymat-CHG-1', status: 'RUNNING' });
    sfn.on(GetExecutionHistoryCommand).resolves({
      events: windowHeld(EXECUTION, { ...pendingTask, taskToken: 'hold-token', approval, changeWindow }),
    });
    sfn.on(SendTaskFailureCommand).resolves({});

    const approved = await answer(signedBy(BOB, '/approve', { execution: 'keymat-CHG-1' }));
    expect(approved).toMatchObject({ status: 409, body: { error: 'NothingToDecide' } });
    expect(approved.body.message).toContain(
      'is approved; held by its change window (freeze CLOSED) until 2026-12-07T08:00:00.000Z',
    );
    expect(sfn.commandCalls(SendTaskSuccessCommand)).toHaveLength(0);

    const withdrawn = await answer(signedBy(ALICE, '/reject', { execution: 'keymat-CHG-1', comment: 'not now' }));
    expect(withdrawn).toMatchObject({ status: 200, body: { as: 'REQUESTER' } });
    expect(sfn.commandCalls(SendTaskFailureCommand).map((c) => c.args[0].input)).toEqual([
      {
        taskToken: 'hold-token',
        error: 'ApprovalRejected',
        cause: `withdrawn by the requester ${ALICE} (cli): not now`,
      },
    ]);
  });

  it('answers a decision that took effect as decided when its event was not published, and logs the event', async () => {
    waitingForApproval();
    sfn.on(SendTaskSuccessCommand).resolves({});
    const logger = silentLogger();
    const logged = jest.spyOn(logger, 'error');
    const unpublished = createGateway({
      changes: new ChangeClient({
        sfn: sfnCall(new SFNClient({ region: 'us-east-1' })),
        stateMachineArn: MACHINE,
        attestor,
        events: { publish: () => Promise.reject(named('EventNotPublished')) },
      }),
      attestor,
      ssm: createSsmClient({ region: 'us-east-1' }),
      config: {
        stateMachineArn: MACHINE,
        attestationKeyArn: 'arn:attestation',
        sessionBoundRoles: [],
        custodians: [],
        eventBusName: 'default',
      },
      logger,
    });
    const response = (await unpublished(signedBy(BOB, '/approve', { execution: 'keymat-CHG-1' }))) as {
      statusCode: number;
    };
    expect(response.statusCode).toBe(200);
    expect(sfn.commandCalls(SendTaskSuccessCommand)).toHaveLength(1);
    expect(logged).toHaveBeenCalledWith(expect.stringContaining('Approval Decided event was not published'), {
      error: 'EventNotPublished',
      event: expect.objectContaining({
        detailType: 'Approval Decided',
        detail: expect.objectContaining({ decision: 'APPROVED', decidedBy: BOB }),
      }),
    });
  });

  it('strips control characters from a comment', async () => {
    waitingForApproval();
    sfn.on(SendTaskSuccessCommand).resolves({});
    await answer(signedBy(BOB, '/approve', { execution: 'keymat-CHG-1', comment: 'ok\u001b[2K\rSUCCEEDED\n' }));
    const output = JSON.parse(sfn.commandCalls(SendTaskSuccessCommand)[0]?.args[0].input.output ?? '{}');
    expect(output.approvals[0].comment).toBe('ok [2K SUCCEEDED');
  });
});

describe('the runbook', () => {
  it('starts the change as the person SSM recorded as running the automation', async () => {
    sfn.on(DescribeExecutionCommand).rejects(named('ExecutionDoesNotExist'));
    sfn.on(StartExecutionCommand).resolves({ executionArn: EXECUTION, startDate: new Date() });
    ssm.on(GetAutomationExecutionCommand).resolves({
      AutomationExecution: {
        AutomationExecutionStatus: 'InProgress',
        ExecutedBy: 'arn:aws:sts::111122223333:assumed-role/AWSReservedSSO_Ops_0123/alice@example.com',
        Parameters: { KeyId: [KEY_ARN], ChangeId: ['CHG-1'], Reason: ['retire'], WaitSeconds: ['0'] },
      },
    });
    expect(await gateway({ runbook: { automationExecutionId: 'abc-123' } })).toEqual({
      executionArn: EXECUTION,
      state: 'STARTED',
    });
    const sent = JSON.parse(sfn.commandCalls(StartExecutionCommand)[0]?.args[0].input.input ?? '{}');
    expect(sent).toMatchObject({
      requestedBy: 'arn:aws:sts::111122223333:assumed-role/AWSReservedSSO_Ops_0123/alice@example.com',
      waitSeconds: 0,
      attestation: { channel: 'runbook' },
    });
  });
});
