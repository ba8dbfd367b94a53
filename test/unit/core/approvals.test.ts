import { checkApprovals, refusal, rejection, sameIdentity, withApproval } from '../../../core/approvals';
import { KeymatError } from '../../../core/errors';
import type { ApprovalRules } from '../../../core/types';
import { input, planFor, snapshot } from '../../helpers/kms-fixtures';

const change = input({ requestedBy: 'alice' });
const anyone: ApprovalRules = { quorum: 1, allowedApprovers: [] };
const listed: ApprovalRules = { quorum: 2, allowedApprovers: ['bob', 'carol'] };
const approved = (approver: string) => ({ approver, at: '2026-01-01T00:00:00.000Z', channel: 'cli' });

describe('refusal', () => {
  it('lets anyone but the requester approve when no approvers are listed', () => {
    expect(refusal('bob', [], change, anyone)).toBeUndefined();
  });

  it('refuses the requester with REQUESTER', () => {
    expect(refusal('alice', [], change, anyone)).toEqual({
      code: 'REQUESTER',
      message: 'the requester alice cannot approve their own change',
    });
  });

  it('refuses a second approval by the same approver with ALREADY_APPROVED', () => {
    expect(refusal('bob', [approved('bob')], change, listed)).toEqual({
      code: 'ALREADY_APPROVED',
      message: 'bob has already approved this change',
    });
  });

  it('refuses an approver outside the list with NOT_ALLOWED, naming the list', () => {
    expect(refusal('dave', [], change, listed)).toEqual({
      code: 'NOT_ALLOWED',
      message: 'dave is not one of the allowed approvers (bob, carol)',
    });
  });

  it('compares identities exactly', () => {
    expect(sameIdentity('bob', 'bob')).toBe(true);
    expect(sameIdentity('bob', 'Bob')).toBe(false);
  });
});

describe('withApproval and rejection', () => {
  it('adds the approval to those so far, bound to the plan digest, without an empty comment', () => {
    const result = withApproval('d'.repeat(64), [approved('bob')], { approver: 'carol', channel: 'web', comment: '' });
    expect(result.planDigest).toBe('d'.repeat(64));
    expect(result.approvals.map((a) => a.approver)).toEqual(['bob', 'carol']);
    expect(result.approvals[1]).not.toHaveProperty('comment');
  });

  it('rejects as ApprovalRejected, naming who, where and why', () => {
    expect(rejection('bob', 'cli', 'not yet')).toEqual({
      error: 'ApprovalRejected',
      cause: 'rejected by bob (cli): not yet',
    });
  });
});

describe('checkApprovals', () => {
  const plan = planFor(snapshot());
  const errorOf = (f: () => void): KeymatError => {
    try {
      f();
    } catch (err) {
      if (err instanceof KeymatError) return err;
      throw err;
    }
    throw new Error('expected a refusal');
  };

  it('accepts enough distinct allowed approvers on this plan', () => {
    const result = { planDigest: plan.digest, approvals: [approved('bob'), approved('carol')] };
    expect(() => checkApprovals(result, plan, change, listed)).not.toThrow();
  });

  it('refuses the requester among the approvers with ApprovalInvalid', () => {
    const result = { planDigest: plan.digest, approvals: [approved('alice')] };
    const err = errorOf(() => checkApprovals(result, plan, change, anyone));
    expect(err.code).toBe('ApprovalInvalid');
    expect(err.message).toContain('the requester alice cannot approve their own change; nothing was deleted');
  });

  it('refuses fewer approvals than the quorum with ApprovalInvalid', () => {
    const result = { planDigest: plan.digest, approvals: [approved('bob')] };
    expect(errorOf(() => checkApprovals(result, plan, change, listed)).message).toContain(
      '1 of the 2 distinct approvals needed',
    );
  });
});
