import { KeymatError } from '../../../core/errors';
import { parseApproval, parseEvent, requestApprovalEvent, taskEvent } from '../../../core/events';
import { input, planFor, snapshot } from '../../helpers/kms-fixtures';

const plan = planFor(snapshot());
const without = (o: object, key: string): Record<string, unknown> =>
  Object.fromEntries(Object.entries(o).filter(([k]) => k !== key));

describe('parseEvent', () => {
  it('returns the parsed event', () => {
    const e = parseEvent(taskEvent, { executionId: 'e', input: input(), plan }, 'CheckState');
    expect(e.plan.digest).toBe(plan.digest);
  });

  it('refuses a plan missing a field as a wiring bug, naming the task and the path', () => {
    const partial = without(plan, 'expectedMaterial');
    expect(() => parseEvent(taskEvent, { executionId: 'e', input: input(), plan: partial }, 'CheckState')).toThrow(
      /^CheckState received an event it cannot use: plan\.expectedMaterial: /,
    );
  });

  it('refuses a RequestApproval event without a task token', () => {
    const event = {
      executionId: 'e',
      input: input(),
      plan,
      approvalTimeoutSeconds: 60,
      approval: { planDigest: plan.digest, approvals: [] },
    };
    expect(() => parseEvent(requestApprovalEvent, event, 'RequestApproval')).toThrow(/taskToken/);
  });
});

describe('parseApproval', () => {
  it('refuses a malformed answer as ApprovalInvalid, naming the field', () => {
    let err: unknown;
    try {
      parseApproval({ planDigest: plan.digest, approvals: 'bob' });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(KeymatError);
    expect(err).toMatchObject({ code: 'ApprovalInvalid', message: expect.stringContaining('approval.approvals') });
  });
});
