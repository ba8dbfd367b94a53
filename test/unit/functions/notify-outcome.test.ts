import { PublishCommand, SNSClient } from '@aws-sdk/client-sns';
import { mockClient } from 'aws-sdk-client-mock';
import 'aws-sdk-client-mock-jest';
import { TERMINAL_ERRORS } from '../../../core/errors';
import type { WorkflowState } from '../../../core/types';
import { createNotifyOutcome } from '../../../functions/notify-outcome/notify-outcome';
import { outcomeOf } from '../../../functions/notify-outcome/outcome';
import { KEY_ARN, M1, input, planFor, snapshot } from '../../helpers/kms-fixtures';
import {
  EXECUTION_ID,
  NO_CHANGE_MANAGEMENT,
  OUTCOME_TOPIC_ARN,
  recordedEvents,
  silentLogger,
  snsClient,
} from '../../helpers/task-deps';

const plan = planFor(snapshot());
const approvals = [{ approver: 'bob', at: '2026-11-22T00:00:00Z', channel: 'cli', round: 1, mac: 'bWFj' }];
const caught = (Error: string): WorkflowState => ({ error: { Error, Cause: `because ${Error}` } });

describe('outcomeOf', () => {
  it.each([
    ['ApprovalRejected', 'REJECTED'],
    ['ApprovalTimedOut', 'TIMED_OUT'],
    ['VerificationFailed', 'FAILED'],
    ['KMSInternalException', 'FAILED'],
    ['NetworkError', 'FAILED'],
    ['States.Timeout', 'FAILED'],
  ])('maps the error %s to %s', (error, status) => {
    expect(outcomeOf(caught(error), {}).status).toBe(status);
  });

  it.each(TERMINAL_ERRORS.filter((n) => !['ApprovalRejected', 'ApprovalTimedOut', 'VerificationFailed'].includes(n)))(
    'maps the refusal %s to REFUSED',
    (error) => {
      expect(outcomeOf(caught(error), {}).status).toBe('REFUSED');
    },
  );

  it('reports a dry run as PLANNED', () => {
    expect(outcomeOf({ input: input({ dryRun: true }), plan }, {}).status).toBe('PLANNED');
  });

  it('reads dryRun from the raw execution input when there is no parsed input', () => {
    expect(outcomeOf({}, { dryRun: true }).status).toBe('PLANNED');
  });

  it('reports ALREADY_DELETED when CheckState found nothing to delete, DELETED otherwise', () => {
    expect(outcomeOf({ input: input(), plan, check: { decision: 'ALREADY_DELETED' } }, {}).status).toBe(
      'ALREADY_DELETED',
    );
    expect(outcomeOf({ input: input(), plan, check: { decision: 'PROCEED' } }, {}).status).toBe('DELETED');
  });

  it('carries the plan (with where the key lives and its approval rules), the approvals, the deletion and the verification into the outcome', () => {
    const outcome = outcomeOf(
      {
        input: input(),
        plan,
        check: { decision: 'PROCEED' },
        approval: { planDigest: plan.digest, approvals },
        deletion: { kmsRequestId: 'req-1', appliedBy: 'THIS_ATTEMPT', at: '2026-11-22T00:01:00Z' },
        verification: { keyStateAfter: 'PendingImport', materialAfter: 'PENDING_IMPORT', verifiedAt: 'now' },
      },
      {},
    );
    expect(outcome).toEqual({
      status: 'DELETED',
      changeId: 'CHG-1',
      keyArn: KEY_ARN,
      keyMaterialId: M1,
      keyStateBefore: 'Enabled',
      keyStateAfter: 'PendingImport',
      location: plan.location,
      rules: plan.rules,
      approvals,
      kmsRequestId: 'req-1',
      restoreCommand: `keymat restore --key-id ${KEY_ARN} --key-material-id ${M1} --change-id CHG-1-restore --reason "back-out of CHG-1"`,
    });
  });

  it('reports a restore RESTORED, with its approvals and import, and names no restore command', () => {
    const restorePlan = { ...plan, restore: true as const, expectedMaterial: 'IMPORTED' as const };
    const outcome = outcomeOf(
      {
        input: input({ restore: true }),
        plan: restorePlan,
        check: { decision: 'PROCEED' },
        approval: { planDigest: plan.digest, approvals },
        restoration: {
          kmsRequestId: 'req-2',
          appliedBy: 'THIS_ATTEMPT',
          custodian: 'carol',
          submissionDigest: 'ab'.repeat(32),
          at: '2026-11-22T00:01:00Z',
        },
        verification: { keyStateAfter: 'Enabled', materialAfter: 'IMPORTED', verifiedAt: 'now' },
      },
      {},
    );
    expect(outcome).toMatchObject({ status: 'RESTORED', keyStateAfter: 'Enabled', approvals, kmsRequestId: 'req-2' });
    expect(outcome).not.toHaveProperty('restoreCommand');
    expect(outcome).not.toHaveProperty('validTo');
  });

  it("names a restore's validTo once RESTORED, and not while it failed", () => {
    const restorePlan = {
      ...plan,
      restore: true as const,
      expectedMaterial: 'IMPORTED' as const,
      validTo: '2027-06-30T00:00:00Z',
    };
    const restoration = {
      kmsRequestId: 'req-3',
      appliedBy: 'THIS_ATTEMPT' as const,
      custodian: 'carol',
      submissionDigest: 'ab'.repeat(32),
      at: '2026-11-22T00:01:00Z',
    };
    const state: WorkflowState = {
      input: input({ restore: true, validTo: '2027-06-30T00:00:00Z' }),
      plan: restorePlan,
      approval: { planDigest: restorePlan.digest, approvals },
      restoration,
      verification: { keyStateAfter: 'Enabled', materialAfter: 'IMPORTED', verifiedAt: 'now' },
    };
    expect(outcomeOf(state, {})).toMatchObject({ status: 'RESTORED', validTo: '2027-06-30T00:00:00Z' });
    expect(outcomeOf({ ...state, error: { Error: 'VerificationFailed' } }, {})).not.toHaveProperty('validTo');
  });

  it('lists the approvals of an answer DeleteMaterial refused as refused, not as approvals', () => {
    const forged = [{ ...approvals[0]!, mac: 'Zm9yZ2Vk' }];
    const outcome = outcomeOf(
      {
        input: input(),
        plan,
        check: { decision: 'PROCEED' },
        approval: { planDigest: plan.digest, approvals: forged },
        error: { Error: 'ApprovalInvalid', Cause: 'approval 1 (bob) is not attested by keymat' },
      },
      {},
    );
    expect(outcome).toMatchObject({ status: 'REFUSED', approvals: [], refusedApprovals: forged });
  });

  it.each([
    ['rejected in a later round', 'ApprovalRejected'],
    ['held past its change window', 'ChangeWindowClosed'],
  ])('lists no approvals for a change %s: DeleteMaterial never verified them', (_case, error) => {
    const outcome = outcomeOf(
      { input: input(), plan, approval: { planDigest: plan.digest, approvals }, error: { Error: error } },
      {},
    );
    expect(outcome.approvals).toEqual([]);
    expect(outcome).not.toHaveProperty('refusedApprovals');
  });

  it('takes the change id and material from the raw input when the input was refused, with the error', () => {
    const outcome = outcomeOf(caught('InvalidInput'), { changeId: 'CHG-7', keyMaterialId: 'c'.repeat(64) });
    expect(outcome).toEqual({
      status: 'REFUSED',
      changeId: 'CHG-7',
      keyMaterialId: 'c'.repeat(64),
      approvals: [],
      kmsRequestId: null,
      error: 'InvalidInput',
      cause: 'because InvalidInput',
    });
  });

  it('leaves out a raw change id that is not a string', () => {
    expect(outcomeOf(caught('InvalidInput'), { changeId: 42 }).changeId).toBeUndefined();
  });
});

describe('NotifyOutcome', () => {
  const sns = mockClient(SNSClient);
  const notifyOutcome = createNotifyOutcome({
    sns: snsClient(),
    events: recordedEvents(),
    config: { outcomeTopicArn: OUTCOME_TOPIC_ARN, ...NO_CHANGE_MANAGEMENT },
    logger: silentLogger(),
  });
  beforeEach(() => {
    sns.reset();
    sns.on(PublishCommand).resolves({ MessageId: 'm-1' });
  });

  it('publishes one message to the configured topic, with the status as an attribute', async () => {
    const out = await notifyOutcome({
      executionId: EXECUTION_ID,
      state: caught('AliasNotAllowed'),
      executionInput: {},
    });
    expect(out.status).toBe('REFUSED');
    expect(sns).toHaveReceivedCommandTimes(PublishCommand, 1);
    expect(sns).toHaveReceivedCommandWith(PublishCommand, {
      TopicArn: OUTCOME_TOPIC_ARN,
      Subject: 'keymat (invalid change): REFUSED AliasNotAllowed',
      MessageAttributes: expect.objectContaining({ status: { DataType: 'String', StringValue: 'REFUSED' } }),
    });
  });

  it('refuses an event without an execution id as a wiring error, and publishes nothing', async () => {
    await expect(notifyOutcome({ state: {}, executionInput: {} })).rejects.toThrow(
      /^NotifyOutcome received an event it cannot use: executionId/,
    );
    expect(sns).not.toHaveReceivedCommand(PublishCommand);
  });
});
