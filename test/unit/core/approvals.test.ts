import {
  isAllowedApprover,
  refusal,
  rejection,
  rejectionRole,
  verifyApprovals,
  withApproval,
} from '../../../core/approvals';
import type { Approval, ApprovalRules } from '../../../core/types';
import { testAttestor } from '../../helpers/attestor';
import { input, planFor, snapshot } from '../../helpers/kms-fixtures';

const user = (name: string) => `arn:aws:iam::111122223333:user/${name}`;
const [ALICE, BOB, CAROL, DAVE] = ['alice', 'bob', 'carol', 'dave'].map(user) as [string, string, string, string];
const EXECUTION = 'arn:aws:states:us-east-1:111122223333:execution:keymat-deletion:keymat-CHG-1';
const change = input({ requestedBy: ALICE });
const anyone: ApprovalRules = { quorum: 1, allowedApprovers: [] };
const listed: ApprovalRules = { quorum: 2, allowedApprovers: [BOB, CAROL] };
const approved = (approver: string, round = 1): Approval => ({
  approver,
  at: '2026-01-01T00:00:00.000Z',
  channel: 'cli',
  round,
  mac: 'bWFj',
});

describe('refusal', () => {
  it('lets anyone but the requester approve when no approvers are listed', () => {
    expect(refusal(BOB, [], change, anyone)).toBeUndefined();
  });

  it('refuses the requester with REQUESTER, whatever the case of the name', () => {
    expect(refusal(user('Alice'), [], change, anyone)).toEqual({
      code: 'REQUESTER',
      message: `the requester ${user('Alice')} cannot approve their own change`,
    });
  });

  it('refuses a second approval by the same approver with ALREADY_APPROVED', () => {
    expect(refusal(BOB, [approved(BOB)], change, listed)?.code).toBe('ALREADY_APPROVED');
  });

  it('refuses an approver outside the list with NOT_ALLOWED, naming the list', () => {
    expect(refusal(DAVE, [], change, listed)).toEqual({
      code: 'NOT_ALLOWED',
      message: `${DAVE} is not one of the allowed approvers (${BOB}, ${CAROL})`,
    });
  });

  it('matches approver patterns', () => {
    const sso = {
      quorum: 1,
      allowedApprovers: ['arn:aws:sts::111122223333:assumed-role/AWSReservedSSO_Approvers_*/*'],
    };
    expect(isAllowedApprover('arn:aws:sts::111122223333:assumed-role/AWSReservedSSO_Approvers_1a2b/bob', sso)).toBe(
      true,
    );
    expect(isAllowedApprover(BOB, sso)).toBe(false);
  });
});

describe('rejection', () => {
  it('lets the requester withdraw and an allowed approver reject, and nobody else', () => {
    expect(rejectionRole(ALICE, change, listed)).toBe('REQUESTER');
    expect(rejectionRole(BOB, change, listed)).toBe('APPROVER');
    expect(rejectionRole(DAVE, change, listed)).toBeUndefined();
  });

  it('names who rejected or withdrew, where and why', () => {
    expect(rejection(BOB, 'APPROVER', 'cli', 'not yet')).toEqual({
      error: 'ApprovalRejected',
      cause: `rejected by ${BOB} (cli): not yet`,
    });
    expect(rejection(ALICE, 'REQUESTER', 'cli').cause).toBe(`withdrawn by the requester ${ALICE} (cli)`);
  });
});

describe('attested approvals', () => {
  const plan = planFor(snapshot());
  const subject = (planDigest: string) => ({ executionArn: EXECUTION, startedAt: '', planDigest });
  const attestor = testAttestor();
  const twoApprovals = async () => {
    const first = await withApproval(attestor, subject(plan.digest), [], { approver: BOB, channel: 'cli' });
    return withApproval(attestor, subject(plan.digest), first.approvals, { approver: CAROL, channel: 'web' });
  };
  const refusalOf = async (f: () => Promise<void>) => {
    try {
      await f();
    } catch (err) {
      return err as Error & { code?: string };
    }
    throw new Error('expected a refusal');
  };

  it('numbers the rounds and MACs each approval', async () => {
    const result = await twoApprovals();
    expect(result.approvals.map((a) => [a.approver, a.round])).toEqual([
      [BOB, 1],
      [CAROL, 2],
    ]);
    expect(result.approvals.every((a) => a.mac.length > 0)).toBe(true);
    expect(result.approvals[0]).not.toHaveProperty('comment');
  });

  it('accepts enough distinct allowed approvers, each attested for this execution and plan', async () => {
    await expect(
      verifyApprovals(attestor, EXECUTION, await twoApprovals(), plan, change, listed),
    ).resolves.toBeUndefined();
  });

  it('refuses forged approvals (names without a valid MAC) with ApprovalInvalid', async () => {
    const forged = { planDigest: plan.digest, approvals: [approved(BOB, 1), approved(CAROL, 2)] };
    const err = await refusalOf(() => verifyApprovals(attestor, EXECUTION, forged, plan, change, listed));
    expect(err.code).toBe('ApprovalInvalid');
    expect(err.message).toContain(`approval 1 (${BOB}) is not attested by keymat`);
  });

  it('refuses an approval attested for another execution', async () => {
    const result = await twoApprovals();
    const other = EXECUTION.replace('CHG-1', 'CHG-2');
    const err = await refusalOf(() => verifyApprovals(attestor, other, result, plan, change, listed));
    expect(err.code).toBe('ApprovalInvalid');
  });

  it('refuses an approval given in an earlier run of an execution of the same name', async () => {
    const result = await twoApprovals();
    const laterRun = { ...change, startedAt: '2027-03-01T00:00:00.000Z' };
    const err = await refusalOf(() => verifyApprovals(attestor, EXECUTION, result, plan, laterRun, listed));
    expect(err.message).toContain('is not attested by keymat');
  });

  it('refuses an approval whose approver was renamed after signing', async () => {
    const result = await twoApprovals();
    const renamed = { ...result, approvals: [result.approvals[0]!, { ...result.approvals[1]!, approver: DAVE }] };
    const err = await refusalOf(() => verifyApprovals(attestor, EXECUTION, renamed, plan, change, listed));
    expect(err.message).toContain(`approval 2 (${DAVE}) is not attested`);
  });

  it('refuses an approval replayed into another round', async () => {
    const result = await twoApprovals();
    const replayed = { ...result, approvals: [result.approvals[0]!, { ...result.approvals[0]!, round: 2 }] };
    const err = await refusalOf(() => verifyApprovals(attestor, EXECUTION, replayed, plan, change, listed));
    expect(err.message).toContain('is not attested');
  });

  it('refuses an attested approval by the requester', async () => {
    const result = await withApproval(attestor, subject(plan.digest), [], { approver: ALICE, channel: 'cli' });
    const err = await refusalOf(() => verifyApprovals(attestor, EXECUTION, result, plan, change, anyone));
    expect(err.message).toContain(`the requester ${ALICE} cannot approve their own change; nothing was deleted`);
  });

  it('refuses fewer approvals than the quorum', async () => {
    const one = await withApproval(attestor, subject(plan.digest), [], { approver: BOB, channel: 'cli' });
    const err = await refusalOf(() => verifyApprovals(attestor, EXECUTION, one, plan, change, listed));
    expect(err.message).toContain('1 of the 2 distinct approvals needed');
  });

  it('refuses an approval given for another plan', async () => {
    const result = await withApproval(attestor, subject('e'.repeat(64)), [], { approver: BOB, channel: 'cli' });
    const err = await refusalOf(() => verifyApprovals(attestor, EXECUTION, result, plan, change, anyone));
    expect(err.message).toContain(`not for this plan ${plan.digest}`);
  });
});
