import {
  DeleteImportedKeyMaterialCommand,
  type KeyState,
  DescribeKeyCommand,
  KMSClient,
  KMSInternalException,
  ListKeyRotationsCommand,
  NotFoundException,
} from '@aws-sdk/client-kms';
import { PublishCommand, SNSClient } from '@aws-sdk/client-sns';
import { mockClient } from 'aws-sdk-client-mock';
import 'aws-sdk-client-mock-jest';
import type { KeySnapshot } from '../../../core/plan';
import type { ApprovalRules, Plan } from '../../../core/types';
import { decide } from '../../../functions/check-state/check';
import { createDeleteMaterial } from '../../../functions/delete-material/delete-material';
import { createNotifyOutcome } from '../../../functions/notify-outcome/notify-outcome';
import { createRequestApproval } from '../../../functions/request-approval/request-approval';
import { createVerifyPendingImport } from '../../../functions/verify-pending-import/verify-pending-import';
import { withApproval } from '../../../core/approvals';
import { signedApprovals, testAttestor } from '../../helpers/attestor';
import { HUB_CONTEXT, KEY_ARN, M1, M2, input, material, planFor, snapshot } from '../../helpers/kms-fixtures';
import {
  APPROVAL_TOPIC_ARN,
  EXECUTION_ID as executionId,
  OUTCOME_TOPIC_ARN,
  NO_CALENDARS,
  NO_CHANGE_MANAGEMENT,
  deleteMaterialDeps,
  keyAccess,
  recordedEvents,
  secretsClient,
  silentLogger,
  snsClient,
} from '../../helpers/task-deps';

const kms = mockClient(KMSClient);
const sns = mockClient(SNSClient);
const deleteMaterial = createDeleteMaterial(deleteMaterialDeps());
const verifyPendingImport = createVerifyPendingImport({ keys: keyAccess(), logger: silentLogger() });
const requestApproval = createRequestApproval({
  sns: snsClient(),
  secrets: secretsClient(),
  events: recordedEvents(),
  calendars: NO_CALENDARS,
  config: { approvalTopicArn: APPROVAL_TOPIC_ARN, ...NO_CHANGE_MANAGEMENT },
  logger: silentLogger(),
});
const notifyOutcome = createNotifyOutcome({
  sns: snsClient(),
  events: recordedEvents(),
  config: { outcomeTopicArn: OUTCOME_TOPIC_ARN, ...NO_CHANGE_MANAGEMENT },
  logger: silentLogger(),
});

beforeEach(() => {
  kms.reset();
  sns.reset();
  sns.on(PublishCommand).resolves({ MessageId: 'm-1' });
});

function keyIs(s: KeySnapshot) {
  kms.on(DescribeKeyCommand).resolves({ KeyMetadata: s.metadata });
  kms.on(ListKeyRotationsCommand).resolves({ Rotations: s.materials });
}

/** A plan whose change takes these approval rules. */
const planWith = (rules: ApprovalRules, s: KeySnapshot = snapshot()): Plan =>
  planFor(s, undefined, { ...HUB_CONTEXT, rules });
const signedBy = (digest: string, ...approvers: string[]) => signedApprovals(executionId, digest, ...approvers);
/** When the execution started: before the helpers' approvals, which are dated 2026-11-22T00:00:00Z. */
const executionStartTime = '2026-11-21T23:00:00Z';
const approved = (plan: Plan, approver = 'bob', digest = plan.digest) => ({
  executionId,
  input: input(),
  plan,
  approval: { planDigest: digest, approvals: signedBy(digest, approver) },
  executionStartTime,
  recovery: {},
});

describe('CheckState', () => {
  const plan = (keyStateBefore: string, alreadyDeleted = false): Plan => ({
    ...planFor(snapshot({ KeyState: keyStateBefore as KeyState })),
    alreadyDeleted,
  });
  it.each(['Enabled', 'Disabled', 'PendingImport'])('proceeds from %s', (state) => {
    expect(decide(plan(state))).toBe('PROCEED');
  });
  it('reports ALREADY_DELETED when the target is already gone', () => {
    expect(decide(plan('PendingImport', true))).toBe('ALREADY_DELETED');
  });
  it.each(['PendingDeletion', 'PendingReplicaDeletion'])('refuses %s with KeyPendingDeletion', (state) => {
    expect(() => decide(plan(state))).toThrow(expect.objectContaining({ name: 'KeyPendingDeletion' }));
  });
  it.each(['Creating', 'Updating', 'Unavailable'])('refuses %s with KeyStateNotDeletable naming the state', (state) => {
    expect(() => decide(plan(state))).toThrow(
      expect.objectContaining({ name: 'KeyStateNotDeletable', message: expect.stringContaining(state) }),
    );
  });
});

describe('DeleteMaterial', () => {
  it('announces, then deletes exactly the approved key and material, and returns the KMS request id', async () => {
    const s = snapshot();
    keyIs(s);
    kms.on(DeleteImportedKeyMaterialCommand).resolves({ $metadata: { requestId: 'req-1' } });
    const result = await deleteMaterial(approved(planFor(s)));
    expect(result).toMatchObject({ kmsRequestId: 'req-1', appliedBy: 'THIS_ATTEMPT' });
    expect(kms).toHaveReceivedCommandWith(DeleteImportedKeyMaterialCommand, { KeyId: KEY_ARN, KeyMaterialId: M1 });
    expect(sns).toHaveReceivedCommandWith(PublishCommand, {
      MessageAttributes: expect.objectContaining({ event: { DataType: 'String', StringValue: 'DeletionAnnounced' } }),
    });
  });

  it('deletes nothing when the Deletion Announced event is not taken (the retry announces again)', async () => {
    const s = snapshot();
    keyIs(s);
    const announcing = createDeleteMaterial(
      deleteMaterialDeps({
        events: {
          publish: async () => Promise.reject(Object.assign(new Error('not taken'), { name: 'EventNotPublished' })),
        },
      }),
    );
    await expect(announcing(approved(planFor(s)))).rejects.toMatchObject({ name: 'EventNotPublished' });
    expect(kms).not.toHaveReceivedCommand(DeleteImportedKeyMaterialCommand);
  });

  it('reports the deletion, with its request id, even when the Key Material Deleted event is not taken', async () => {
    const s = snapshot();
    keyIs(s);
    kms.on(DeleteImportedKeyMaterialCommand).resolves({ $metadata: { requestId: 'req-2' } });
    const published: string[] = [];
    const flaky = createDeleteMaterial(
      deleteMaterialDeps({
        events: {
          publish: async (...events) => {
            if (events.some((e) => e.detailType === 'Key Material Deleted')) throw new Error('EventBridge is down');
            published.push(...events.map((e) => e.detailType));
          },
        },
      }),
    );
    await expect(flaky(approved(planFor(s)))).resolves.toMatchObject({
      kmsRequestId: 'req-2',
      appliedBy: 'THIS_ATTEMPT',
    });
    expect(published).toEqual(['Deletion Announced']);
  });

  it('refuses PlanDrifted when the key changed since approval, and deletes nothing', async () => {
    const plan = planFor(snapshot());
    keyIs(snapshot({ KeyState: 'Disabled' }));
    await expect(deleteMaterial(approved(plan))).rejects.toMatchObject({
      name: 'PlanDrifted',
      message: expect.stringContaining('keyState was "Enabled", now "Disabled"'),
    });
    expect(kms).not.toHaveReceivedCommand(DeleteImportedKeyMaterialCommand);
    expect(sns).not.toHaveReceivedCommand(PublishCommand);
  });

  it('refuses PlanDrifted when the target material was replaced by a rotation', async () => {
    const plan = planFor(snapshot());
    keyIs(snapshot({ CurrentKeyMaterialId: M2 }, [material(M1, { KeyMaterialState: 'NON_CURRENT' }), material(M2)]));
    await expect(deleteMaterial(approved(plan))).rejects.toMatchObject({ name: 'PlanDrifted' });
    expect(kms).not.toHaveReceivedCommand(DeleteImportedKeyMaterialCommand);
  });

  it('recognises its own earlier deletion (500 after apply) and does not call again', async () => {
    const plan = planFor(snapshot());
    keyIs(snapshot({ KeyState: 'PendingImport' }, [material(M1, { ImportState: 'PENDING_IMPORT' })]));
    const result = await deleteMaterial(approved(plan));
    expect(result).toMatchObject({ kmsRequestId: null, appliedBy: 'EARLIER_ATTEMPT' });
    expect(kms).not.toHaveReceivedCommand(DeleteImportedKeyMaterialCommand);
  });

  it.each([
    ['an approval for another plan', (p: Plan) => approved(p, 'bob', 'f'.repeat(64)), 'for plan'],
    ['the requester approving their own change', (p: Plan) => approved(p, 'alice'), 'cannot approve their own'],
    [
      'no approver',
      (p: Plan) => ({ ...approved(p), approval: { planDigest: p.digest, approvals: [] } }),
      'no approver',
    ],
    [
      'a forged approval: the right names, no keymat attestation',
      (p: Plan) => {
        const e = approved(p);
        return {
          ...e,
          approval: { ...e.approval, approvals: e.approval.approvals.map((a) => ({ ...a, mac: 'Zm9yZ2Vk' })) },
        };
      },
      'is not attested by keymat',
    ],
    [
      'an approval attested for another execution',
      (p: Plan) => ({ ...approved(p), executionId: executionId.replace(/:e$/, ':other') }),
      'is not attested by keymat',
    ],
  ])('refuses %s with ApprovalInvalid before any KMS call', async (_l, make, mentions) => {
    const err = await deleteMaterial(make(planFor(snapshot()))).catch((e: Error) => e);
    expect(err).toMatchObject({ name: 'ApprovalInvalid', message: expect.stringContaining(mentions) });
    expect(kms.calls()).toHaveLength(0);
  });

  it.each([
    [
      'one approval when the quorum is 2',
      ['bob'],
      { quorum: 2, allowedApprovers: [] },
      '1 of the 2 distinct approvals',
    ],
    [
      'the same approver twice for a quorum of 2',
      ['bob', 'bob'],
      { quorum: 2, allowedApprovers: [] },
      'bob has already approved',
    ],
    [
      'an approver outside the allowed list',
      ['mallory'],
      { quorum: 1, allowedApprovers: ['bob', 'carol'] },
      'mallory is not one of the allowed approvers',
    ],
  ])('refuses %s with ApprovalInvalid', async (_l, approvers, rules, mentions) => {
    const plan = planWith(rules);
    const approvals = signedBy(plan.digest, ...approvers);
    const event = {
      executionId,
      input: input(),
      plan,
      approval: { planDigest: plan.digest, approvals },
      executionStartTime,
      recovery: {},
    };
    await expect(deleteMaterial(event)).rejects.toMatchObject({
      name: 'ApprovalInvalid',
      message: expect.stringContaining(mentions),
    });
    expect(kms.calls()).toHaveLength(0);
  });

  it('accepts two distinct allowed approvers for a quorum of 2', async () => {
    const s = snapshot();
    keyIs(s);
    kms.on(DeleteImportedKeyMaterialCommand).resolves({ $metadata: { requestId: 'req-2' } });
    const plan = planWith({ quorum: 2, allowedApprovers: ['bob', 'carol'] }, s);
    const result = await deleteMaterial({
      executionId,
      input: input(),
      plan,
      approval: { planDigest: plan.digest, approvals: signedBy(plan.digest, 'bob', 'carol') },
      executionStartTime,
      recovery: {},
    });
    expect(result.kmsRequestId).toBe('req-2');
  });

  it('refuses an attested approval dated before its execution started with ApprovalInvalid, and deletes nothing', async () => {
    keyIs(snapshot());
    const later = { ...approved(planFor(snapshot())), executionStartTime: '2026-11-22T00:00:01Z' };
    await expect(deleteMaterial(later)).rejects.toMatchObject({
      name: 'ApprovalInvalid',
      message:
        'approval 1 (bob) is dated "2026-11-22T00:00:00Z", not within its execution, which started at 2026-11-22T00:00:01.000Z; nothing was deleted',
    });
    expect(kms.commandCalls(DeleteImportedKeyMaterialCommand)).toHaveLength(0);
  });

  it('refuses an attested approval dated after now with ApprovalInvalid, and deletes nothing', async () => {
    keyIs(snapshot());
    const plan = planFor(snapshot());
    const subject = { executionArn: executionId, startedAt: '', planDigest: plan.digest };
    const future = new Date(Date.now() + 60_000);
    const answer = await withApproval(testAttestor(), subject, [], { approver: 'bob', channel: 'cli' }, future);
    const err = await deleteMaterial({ ...approved(plan), approval: answer }).catch((e: Error) => e);
    expect(err).toMatchObject({
      name: 'ApprovalInvalid',
      message: expect.stringContaining(`approval 1 (bob) is dated "${future.toISOString()}", after now (`),
    });
    expect(kms.commandCalls(DeleteImportedKeyMaterialCommand)).toHaveLength(0);
  });

  it('lets KMSInternalException through under its own name for the retry', async () => {
    const s = snapshot();
    keyIs(s);
    kms.on(DeleteImportedKeyMaterialCommand).rejects(new KMSInternalException({ message: 'boom', $metadata: {} }));
    await expect(deleteMaterial(approved(planFor(s)))).rejects.toMatchObject({ name: 'KMSInternalException' });
  });
});

describe('VerifyPendingImport', () => {
  const event = (plan: Plan) => ({ executionId, input: input(), plan });

  it('verifies PendingImport with the material PENDING_IMPORT', async () => {
    const plan = planFor(snapshot());
    keyIs(snapshot({ KeyState: 'PendingImport' }, [material(M1, { ImportState: 'PENDING_IMPORT' })]));
    await expect(verifyPendingImport(event(plan))).resolves.toMatchObject({
      keyStateAfter: 'PendingImport',
      materialAfter: 'PENDING_IMPORT',
    });
  });

  it('verifies an unchanged key state with the pending-rotation material gone', async () => {
    const s = snapshot({}, [material(M1), material(M2, { KeyMaterialState: 'PENDING_ROTATION' })]);
    const plan = planFor(s, M2);
    keyIs(snapshot());
    await expect(verifyPendingImport(event(plan))).resolves.toMatchObject({
      keyStateAfter: 'Enabled',
      materialAfter: 'REMOVED',
    });
  });

  it('throws VerificationPending while the key still shows the old state', async () => {
    const plan = planFor(snapshot());
    keyIs(snapshot());
    await expect(verifyPendingImport(event(plan))).rejects.toMatchObject({ name: 'VerificationPending' });
  });

  it('throws VerificationPending on NotFoundException right after the change', async () => {
    const plan = planFor(snapshot());
    kms.on(DescribeKeyCommand).rejects(new NotFoundException({ message: 'not yet', $metadata: {} }));
    await expect(verifyPendingImport(event(plan))).rejects.toMatchObject({ name: 'VerificationPending' });
  });

  it('fails VerificationFailed on a state the deletion cannot explain', async () => {
    const plan = planFor(snapshot());
    keyIs(snapshot({ KeyState: 'PendingDeletion' }, [material(M1, { ImportState: 'PENDING_IMPORT' })]));
    await expect(verifyPendingImport(event(plan))).rejects.toMatchObject({ name: 'VerificationFailed' });
  });
});

describe('RequestApproval', () => {
  it('publishes the plan in words, without the task token', async () => {
    const plan = planWith({ quorum: 2, allowedApprovers: ['bob', 'carol'] });
    const token = 'AQB-secret-token+/=';
    await requestApproval({
      executionId,
      input: input(),
      plan,
      taskToken: token,
      approvalTimeoutSeconds: 3600,
      recovery: {},
      approval: { planDigest: plan.digest, approvals: signedBy(plan.digest, 'bob') },
    });
    const sent = sns.commandCalls(PublishCommand)[0]!.args[0].input;
    expect(sent.Message).toContain(KEY_ARN);
    expect(sent.Message).toContain('The key becomes PendingImport');
    expect(sent.Message).toContain('Last used: unknown');
    expect(sent.Message).toContain('requested by alice');
    expect(sent.Message).not.toContain(token);
    expect(sent.Message).toContain('Approvals: 1 of 2 distinct approvers (so far: bob).');
    expect(sent.Message).toContain("Approval (the deployment's rules): 2 distinct approvers, from bob, carol.");
    expect(sent.Message).toContain('Where: account 111122223333, us-east-1');
    expect(sent.MessageAttributes?.planDigest?.StringValue).toBe(plan.digest);
    expect(sent.MessageAttributes?.account?.StringValue).toBe('111122223333');
    expect(sent.MessageAttributes?.region?.StringValue).toBe('us-east-1');
  });
});

describe('NotifyOutcome', () => {
  const plan = planFor(snapshot());
  it.each([
    [{ error: { Error: 'ApprovalRejected', Cause: 'no' } }, 'REJECTED'],
    [{ error: { Error: 'ApprovalTimedOut', Cause: 'late' } }, 'TIMED_OUT'],
    [{ error: { Error: 'AliasNotAllowed', Cause: 'alias' } }, 'REFUSED'],
    [{ error: { Error: 'KMSInternalException', Cause: '500' } }, 'FAILED'],
    [{ input: input({ dryRun: true }), plan }, 'PLANNED'],
    [{ input: input(), plan, check: { decision: 'ALREADY_DELETED' } }, 'ALREADY_DELETED'],
    [{ input: input(), plan, check: { decision: 'PROCEED' } }, 'DELETED'],
  ])('reports %j as %s and publishes one message', async (state, status) => {
    const out = await notifyOutcome({ executionId, state, executionInput: { changeId: 'CHG-9' } });
    expect(out.status).toBe(status);
    expect(sns).toHaveReceivedCommandTimes(PublishCommand, 1);
  });

  it('takes the change id from the raw input when the input was refused', async () => {
    const out = await notifyOutcome({
      executionId,
      state: { keyId: 'alias/x', error: { Error: 'AliasNotAllowed', Cause: 'c' } },
      executionInput: { keyId: 'alias/x', changeId: 'CHG-7' },
    });
    expect(out).toMatchObject({ status: 'REFUSED', changeId: 'CHG-7', error: 'AliasNotAllowed' });
  });
});
