import { DescribeKeyCommand, type KMSClient } from '@aws-sdk/client-kms';
import Ajv2020 from 'ajv/dist/2020';
import addFormats from 'ajv-formats';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EVENT_DETAIL_TYPES, eventSchemaFile } from '../../../core/change-events';
import { EVENT_SOURCE } from '../../../core/naming';
import { localApprover, type ApproveMode } from '../../../local/workflow/approver';
import { setLocalCalendar, setLocalTicket } from '../../../local/services/change-management';
import { createExternalKey, localKmsClient, type CreatedKey } from '../../../local/kms/byok';
import { LocalStack } from '../../../local/services/server';
import { DELETION_PATH } from '../../helpers/history';
import { keySupply, seedExternalKeys } from '../../helpers/seeded-keys';
import { readEventsOutbox, readOutbox } from '../../../local/state/store';
import {
  type LocalRunResult,
  type LocalWorkflow,
  openLocalWorkflow,
  prepareWorkflow,
} from '../../../local/workflow/workflow';
import { ChangeClient } from '../../../core/change-client';
import { heldChange as heldChangeTask, progress } from '../../../core/history';
import { SFNClient } from '@aws-sdk/client-sfn';
import { gatewayAs, waitForApprovalRound } from '../../helpers/changes';
import { sfnCall } from '../../../functions/runtime/aws';
import { LOCAL_CREDENTIALS } from '../../../local/constants';

/**
 * Change management on the local stack, end to end through the synthesized definition: freeze windows (SSM Change
 * Calendars in the state folder), the change-ticket check (the local stub) and the EventBridge events every change
 * publishes, each event checked against its JSON Schema in schemas/events/.
 */
let dir: string;
let stack: LocalStack;
let kms: KMSClient;
let frozen: LocalWorkflow;
let shortFreeze: LocalWorkflow;
let ticketed: LocalWorkflow;
let plain: LocalWorkflow;

const ajv = new Ajv2020({ strict: true, allErrors: true });
addFormats(ajv);
const validators = Object.fromEntries(
  EVENT_DETAIL_TYPES.map((type) => [
    type,
    ajv.compile(JSON.parse(readFileSync(join(__dirname, '../../../schemas/events', eventSchemaFile(type)), 'utf8'))),
  ]),
);

let keys: { next: () => CreatedKey };

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'keymat-cm-'));
  keys = keySupply(
    seedExternalKeys(
      dir,
      join(dir, 'byok'),
      Array.from({ length: 16 }, () => ({})),
    ),
  );
  stack = await LocalStack.start({ stateDir: dir });
  kms = localKmsClient(stack.endpoint);
  // No recovery proof but in `plain` (the default path): its import parameters (an RSA-4096 key each change) would
  // take part of the freeze the test times, and the proof is tested in recovery-proof.test.ts.
  frozen = await openLocalWorkflow({
    stateDir: dir,
    approvalTimeoutSeconds: 3600,
    recoveryProof: 'off',
    changeManagement: { changeCalendars: ['freeze'] },
  });
  shortFreeze = await openLocalWorkflow({
    stateDir: dir,
    approvalTimeoutSeconds: 3600,
    recoveryProof: 'off',
    changeManagement: { changeCalendars: ['holiday'], changeWindowMaxWaitSeconds: 1 },
  });
  ticketed = await openLocalWorkflow({
    stateDir: dir,
    approvalTimeoutSeconds: 3600,
    recoveryProof: 'off',
    changeManagement: { changeTicketCheck: true },
  });
  plain = await openLocalWorkflow({ stateDir: dir, approvalTimeoutSeconds: 3600 });
});
afterAll(async () => {
  await stack.close();
  rmSync(dir, { recursive: true, force: true });
});

let changes = 0;
const user = (name: string) => `arn:aws:iam::111122223333:user/${name}`;
const newKey = async (): Promise<CreatedKey> => keys.next();
async function run(
  on: LocalWorkflow,
  approve: ApproveMode = 'auto',
  changeId = `CHG-CM-${++changes}`,
  key?: Awaited<ReturnType<typeof newKey>>,
) {
  const target = key ?? (await newKey());
  const result = await on.run(
    { keyId: target.keyId, changeId, reason: 'change management test', requestedBy: 'alice' },
    { decide: localApprover(approve, 'bob', { irreversible: true }), waitMs: 5, retryIntervalMs: 5 },
  );
  return { key: target, result, changeId };
}

const keyState = async (keyId: string) =>
  (await kms.send(new DescribeKeyCommand({ KeyId: keyId }))).KeyMetadata?.KeyState;
const deletions = (r: LocalRunResult) => r.kmsCalls.filter((c) => c.operation === 'DeleteImportedKeyMaterial');
const entered = (r: LocalRunResult) => r.history.filter((e) => e.type === 'StateEntered').map((e) => e.state);
const eventsOf = (executionArn: string) =>
  readEventsOutbox(dir).filter((e) => (e.detail as { executionArn?: string }).executionArn === executionArn);

describe('freeze windows', () => {
  it('holds a change approved while its calendar is CLOSED and deletes once the window opens', async () => {
    // The key first (an RSA wrapping key takes a while on a busy machine), then a freeze that outlasts the approval.
    const created = await newKey();
    const opensAt = new Date(Date.now() + 5000);
    setLocalCalendar(dir, 'freeze', { state: 'CLOSED', until: opensAt.toISOString() });
    const { key, result } = await run(frozen, 'auto', undefined, created);

    expect(result.status).toBe('SUCCEEDED');
    expect(await keyState(key.keyId)).toBe('PendingImport');
    // Approved first, then held: the deletion came only after the calendar opened.
    const states = entered(result);
    expect(states.indexOf('WaitForChangeWindow')).toBeGreaterThan(states.indexOf('RequestApproval'));
    expect(states.filter((s) => s === 'CheckChangeWindow')).toHaveLength(2);
    const deletedAt = eventsOf(result.executionArn).find((e) => e.detailType === 'Key Material Deleted')?.detail
      .occurredAt as string;
    expect(new Date(deletedAt).getTime()).toBeGreaterThanOrEqual(opensAt.getTime());
    // The approval request told the approver about the freeze.
    const request = readOutbox(dir).find(
      (m) => m.attributes.executionId === result.executionArn && m.attributes.event === 'ApprovalRequested',
    );
    expect(request?.message).toContain('Change window (freeze): CLOSED');
  });

  it('ends ChangeWindowClosed with nothing deleted when the window does not open within the bound', async () => {
    setLocalCalendar(dir, 'holiday', { state: 'CLOSED', until: new Date(Date.now() + 3_600_000).toISOString() });
    const { key, result } = await run(shortFreeze);

    expect(result.status).toBe('FAILED');
    expect(result.error).toBe('ChangeWindowClosed');
    expect(result.cause).toContain('holiday is still CLOSED');
    expect(deletions(result)).toEqual([]);
    expect(entered(result)).not.toContain('DeleteMaterial');
    expect(await keyState(key.keyId)).toBe('Enabled');
  });

  it('goes straight on when the calendar is OPEN', async () => {
    setLocalCalendar(dir, 'freeze', { state: 'OPEN' });
    const { key, result } = await run(frozen);

    expect(result.status).toBe('SUCCEEDED');
    expect(entered(result)).not.toContain('WaitForChangeWindow');
    expect(await keyState(key.keyId)).toBe('PendingImport');
  });

  it('adds no state to a change of a stack without calendars', async () => {
    const { result } = await run(plain);

    expect(result.status).toBe('SUCCEEDED');
    expect(entered(result)).toEqual(DELETION_PATH);
  });
});

describe('the change-ticket check', () => {
  it('refuses a denied ticket ChangeTicketNotApproved before any approval request is sent', async () => {
    const changeId = `CHG-CM-${++changes}`;
    setLocalTicket(dir, changeId, {
      decision: 'DENIED',
      reason: 'CAB rejected the change',
      link: 'https://itsm.example.com/CHG1',
    });
    const outboxBefore = readOutbox(dir).length;
    const { key, result } = await run(ticketed, 'auto', changeId);

    expect(result.status).toBe('FAILED');
    expect(result.error).toBe('ChangeTicketNotApproved');
    expect(result.cause).toContain('DENIED: CAB rejected the change');
    expect(entered(result)).not.toContain('RequestApproval');
    const sent = readOutbox(dir).slice(outboxBefore);
    expect(sent.filter((m) => m.attributes.event === 'ApprovalRequested')).toEqual([]);
    expect(deletions(result)).toEqual([]);
    expect(await keyState(key.keyId)).toBe('Enabled');
  });

  it('refuses a change id the ticket system does not know', async () => {
    const { result } = await run(ticketed);

    expect(result.error).toBe('ChangeTicketNotApproved');
    expect(result.cause).toContain('UNKNOWN');
  });

  it('lets an approved ticket through, and the plan carries it', async () => {
    const changeId = `CHG-CM-${++changes}`;
    setLocalTicket(dir, changeId, { decision: 'APPROVED', reason: 'approved by CAB' });
    const { result } = await run(ticketed, 'auto', changeId);

    expect(result.status).toBe('SUCCEEDED');
    const planned = eventsOf(result.executionArn).find((e) => e.detailType === 'Deletion Planned');
    expect(planned?.detail.changeTicket).toMatchObject({ decision: 'APPROVED', reason: 'approved by CAB' });
  });
});

describe('events', () => {
  const expectValid = (events: ReturnType<typeof eventsOf>) => {
    for (const e of events) {
      expect(e.source).toBe(EVENT_SOURCE);
      const validate = validators[e.detailType];
      expect(validate).toBeDefined();
      expect({ type: e.detailType, valid: validate?.(e.detail), errors: validate?.errors ?? null }).toEqual({
        type: e.detailType,
        valid: true,
        errors: null,
      });
    }
  };

  it('publishes each event of a deletion once, in order, each valid against its schema', async () => {
    const { result, key } = await run(plain);
    const events = eventsOf(result.executionArn);

    expect(events.map((e) => e.detailType)).toEqual([
      'Deletion Planned',
      'Approval Requested',
      'Approval Decided',
      'Deletion Announced',
      'Key Material Deleted',
    ]);
    expectValid(events);
    const deleted = events[4]?.detail;
    expect(deletions(result).map((c) => c.status)).toEqual([200]);
    expect(deleted).toMatchObject({ keyArn: key.keyArn, appliedBy: 'THIS_ATTEMPT', expectedKeyState: 'PendingImport' });
    expect(typeof deleted?.kmsRequestId).toBe('string');
    expect(new Set(events.map((e) => e.detail.eventId)).size).toBe(5);
  });

  it('publishes the events of a rejected change once, in order, ending Change Failed', async () => {
    const { result } = await run(plain, 'reject');
    const events = eventsOf(result.executionArn);

    expect(events.map((e) => e.detailType)).toEqual([
      'Deletion Planned',
      'Approval Requested',
      'Approval Decided',
      'Change Failed',
    ]);
    expectValid(events);
    expect(events[2]?.detail).toMatchObject({ decision: 'REJECTED', decidedBy: 'bob', as: 'APPROVER' });
    expect(events[3]?.detail).toMatchObject({ status: 'REJECTED', error: 'ApprovalRejected' });
  });

  it('carries no task token, attestation or link in any event', async () => {
    const { result } = await run(plain);
    const events = eventsOf(result.executionArn);
    const text = JSON.stringify(events);

    expect(events).toHaveLength(5);
    expect(text).not.toMatch(/taskToken|"mac"|attestation|https?:\/\/127\.0\.0\.1|sig=/i);
  });
});

describe('a change held by its window on the served stack', () => {
  let served: LocalStack;
  let servedDir: string;

  beforeAll(async () => {
    servedDir = mkdtempSync(join(tmpdir(), 'keymat-cm-served-'));
    served = await LocalStack.start({
      stateDir: servedDir,
      workflow: (endpoint) =>
        prepareWorkflow(endpoint, {
          recoveryProof: 'off',
          approvalTimeoutSeconds: 120,
          approvers: [user('bob'), user('carol')],
          changeManagement: { changeCalendars: ['freeze'] },
        }),
    });
  });
  afterAll(async () => {
    await served.close();
    rmSync(servedDir, { recursive: true, force: true });
  });

  it('is listed apart from the approvals, and its status says until when it waits', async () => {
    const opensAt = new Date(Date.now() + 3_600_000).toISOString();
    setLocalCalendar(servedDir, 'freeze', { state: 'CLOSED', until: opensAt });
    const key = await createExternalKey(localKmsClient(served.endpoint), { materialDir: join(servedDir, 'byok') });
    const started = await gatewayAs(served.endpoint, 'alice', '/changes', {
      keyId: key.keyArn,
      changeId: 'CHG-HELD',
      reason: 'freeze',
      waitSeconds: 0,
    });
    const { executionArn } = started.body as { executionArn: string };
    const sfn = new SFNClient({ endpoint: served.endpoint, region: 'us-east-1', credentials: LOCAL_CREDENTIALS });
    const changes = new ChangeClient({ sfn: sfnCall(sfn), stateMachineArn: served.stateMachineArn as string });
    await waitForApprovalRound(served.endpoint, executionArn);
    expect((await changes.pending()).approvals.map((a) => a.executionArn)).toEqual([executionArn]);
    expect((await gatewayAs(served.endpoint, 'bob', '/approve', { execution: executionArn })).status).toBe(200);

    let look = await changes.status(executionArn);
    for (let i = 0; i < 100 && look.changeWindow === undefined; i++) {
      await new Promise((r) => setTimeout(r, 20));
      look = await changes.status(executionArn);
    }
    expect(look.changeWindow).toMatchObject({ calendars: ['freeze'], state: 'CLOSED', waitUntil: opensAt });
    expect(await changes.pending()).toEqual({
      proofs: [],
      approvals: [],
      windows: [{ executionArn, plan: expect.objectContaining({ keyArn: key.keyArn }), window: look.changeWindow }],
    });

    // Held, not deleted.
    expect((await changes.describe(executionArn)).status).toBe('RUNNING');
    const held = await localKmsClient(served.endpoint).send(new DescribeKeyCommand({ KeyId: key.keyArn }));
    expect(held.KeyMetadata?.KeyState).toBe('Enabled');
    sfn.destroy();
  });

  /** A change started by alice and approved by bob, once it is held by the CLOSED calendar (its hold's token out). */
  async function heldChange(changeId: string, opensAt: Date): Promise<{ key: CreatedKey; executionArn: string }> {
    setLocalCalendar(servedDir, 'freeze', { state: 'CLOSED', until: opensAt.toISOString() });
    const key = await createExternalKey(localKmsClient(served.endpoint), { materialDir: join(servedDir, 'byok') });
    const started = await gatewayAs(served.endpoint, 'alice', '/changes', {
      keyId: key.keyArn,
      changeId,
      reason: 'freeze',
      waitSeconds: 0,
    });
    const { executionArn } = started.body as { executionArn: string };
    await waitForApprovalRound(served.endpoint, executionArn);
    expect((await gatewayAs(served.endpoint, 'bob', '/approve', { execution: executionArn })).status).toBe(200);
    for (let i = 0; i < 200; i++) {
      if (heldChangeTask(await servedChanges.history(executionArn))) return { key, executionArn };
      await new Promise((r) => setTimeout(r, 20));
    }
    throw new Error(`${executionArn} was never held by its window`);
  }

  let servedSfn: SFNClient;
  let servedChanges: ChangeClient;
  beforeAll(() => {
    servedSfn = new SFNClient({ endpoint: served.endpoint, region: 'us-east-1', credentials: LOCAL_CREDENTIALS });
    servedChanges = new ChangeClient({ sfn: sfnCall(servedSfn), stateMachineArn: served.stateMachineArn as string });
  });
  afterAll(() => servedSfn.destroy());

  const inAnHour = () => new Date(Date.now() + 3_600_000);
  const deletesOf = (keyArn: string) =>
    served.requestLog.read().filter((e) => e.operation === 'DeleteImportedKeyMaterial' && e.keyId === keyArn);
  const decisionsOf = (executionArn: string) =>
    readEventsOutbox(servedDir)
      .filter((e) => e.detail.executionArn === executionArn && e.detailType !== 'Deletion Planned')
      .map((e): Record<string, unknown> => ({ ...e.detail, type: e.detailType }));

  it.each([
    ['withdrawn by its requester', 'alice', 'REQUESTER', `withdrawn by the requester ${user('alice')} (cli): not now`],
    ['rejected by an allowed approver', 'carol', 'APPROVER', `rejected by ${user('carol')} (cli): not now`],
  ])('ends a held change %s ApprovalRejected, deleting nothing', async (_label, by, as, cause) => {
    const { key, executionArn } = await heldChange(`CHG-HELD-${by}`, inAnHour());

    const answer = await gatewayAs(served.endpoint, by, '/reject', { execution: executionArn, comment: 'not now' });
    expect(answer).toEqual({ status: 200, body: { executionArn, rejectedBy: user(by), as } });

    const end = await finishedOn(servedChanges, executionArn);
    expect(end).toMatchObject({ status: 'FAILED', error: 'ApprovalRejected', cause });
    expect(deletesOf(key.keyArn)).toEqual([]);
    const { KeyMetadata } = await localKmsClient(served.endpoint).send(new DescribeKeyCommand({ KeyId: key.keyArn }));
    expect(KeyMetadata?.KeyState).toBe('Enabled');
    // The rejection is decided in the round after the last approval, and the change ends as a rejected one does.
    expect(decisionsOf(executionArn).slice(-2)).toEqual([
      expect.objectContaining({ type: 'Approval Decided', decision: 'REJECTED', round: 2, decidedBy: user(by), as }),
      expect.objectContaining({ type: 'Change Failed', status: 'REJECTED', error: 'ApprovalRejected' }),
    ]);
  });

  it('answers an approval of a held change NothingToDecide, and refuses an outsider its rejection', async () => {
    const opensAt = inAnHour();
    const { key, executionArn } = await heldChange('CHG-HELD-NOTHING', opensAt);
    const before = await servedChanges.history(executionArn);

    const approve = await gatewayAs(served.endpoint, 'carol', '/approve', { execution: executionArn });
    expect(approve).toMatchObject({ status: 409, body: { error: 'NothingToDecide' } });
    expect((approve.body as { message: string }).message).toContain(
      `is approved; held by its change window (freeze CLOSED) until ${opensAt.toISOString()}`,
    );
    const outsider = await gatewayAs(served.endpoint, 'mallory', '/reject', { execution: executionArn, comment: 'no' });
    expect(outsider).toMatchObject({ status: 403, body: { error: 'RejectionRefused' } });

    // Still held on the same token, nothing decided, nothing deleted.
    const after = await servedChanges.history(executionArn);
    expect(heldChangeTask(after)?.taskToken).toBe(heldChangeTask(before)?.taskToken);
    expect(after).toHaveLength(before.length);
    expect(decisionsOf(executionArn).filter((e) => e.type === 'Approval Decided')).toHaveLength(1);
    expect(deletesOf(key.keyArn)).toEqual([]);
    await gatewayAs(served.endpoint, 'alice', '/reject', { execution: executionArn, comment: 'end of the test' });
  });

  it('still deletes a held change once its window opens', async () => {
    const opensAt = new Date(Date.now() + 3000);
    const { key, executionArn } = await heldChange('CHG-HELD-OPENS', opensAt);

    const end = await finishedOn(servedChanges, executionArn);
    expect(end.status).toBe('SUCCEEDED');
    expect(deletesOf(key.keyArn)).toHaveLength(1);
    const deleted = decisionsOf(executionArn).find((e) => e.type === 'Key Material Deleted');
    const deletedAt = deleted?.occurredAt as string;
    expect(new Date(deletedAt).getTime()).toBeGreaterThanOrEqual(opensAt.getTime());
    // Held once, timed out at the transition, checked again: OPEN.
    const entered = progress(await servedChanges.history(executionArn)).entered;
    expect(entered.filter((s) => s === 'CheckChangeWindow')).toHaveLength(2);
    expect(entered.filter((s) => s === 'WaitForChangeWindow')).toHaveLength(1);
  });
});

/** The execution's description once it has ended. */
async function finishedOn(changes: ChangeClient, executionArn: string) {
  for (let i = 0; i < 600; i++) {
    const described = await changes.describe(executionArn);
    if (described.status !== 'RUNNING') return described;
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new Error(`${executionArn} did not finish`);
}
