import { KeymatError, type TerminalErrorName } from './errors';
import type { Approval, ApprovalResult, ApprovalRules, ChangeInput, Plan } from './types';

/**
 * Why `approver` may not add an approval to `soFar`, or undefined when they may: the requester never approves, an
 * approver counts once, and a configured list of approvers is closed.
 */
export function refusal(
  approver: string,
  soFar: ApprovalResult['approvals'],
  input: ChangeInput,
  rules: ApprovalRules,
): string | undefined {
  if (approver === input.requestedBy) return `the requester ${approver} cannot approve their own change`;
  if (soFar.some((a) => a.approver === approver)) return `${approver} has already approved this change`;
  if (rules.allowedApprovers.length > 0 && !rules.allowedApprovers.includes(approver)) {
    return `${approver} is not one of the allowed approvers (${rules.allowedApprovers.join(', ')})`;
  }
  return undefined;
}

/** The answer to an approval round: the approvals so far plus this one, bound to the plan digest. */
export function withApproval(
  planDigest: string,
  soFar: ApprovalResult['approvals'],
  { approver, channel, comment }: Omit<Approval, 'at'>,
): ApprovalResult {
  const approval: Approval = { approver, at: new Date().toISOString(), channel, ...(comment && { comment }) };
  return { planDigest, approvals: [...soFar, approval] };
}

/** SendTaskFailure's error and cause for a rejection: the change ends ApprovalRejected, naming who and why. */
export const rejection = (rejectedBy: string, channel: string, comment?: string) => ({
  error: 'ApprovalRejected' as const satisfies TerminalErrorName,
  cause: `rejected by ${rejectedBy} (${channel})${comment ? `: ${comment}` : ''}`.slice(0, 32_768),
});

/** DeleteMaterial's check of the whole answer: bound to this plan, enough distinct allowed approvers, no requester. */
export function checkApprovals(result: ApprovalResult, plan: Plan, input: ChangeInput, rules: ApprovalRules): void {
  const fail = (why: string) => new KeymatError('ApprovalInvalid', `${why}; nothing was deleted`);
  if (result.planDigest !== plan.digest) {
    throw fail(`the approval was given for plan ${result.planDigest}, not for this plan ${plan.digest}`);
  }
  if (result.approvals.length === 0) throw fail('the approval names no approver');
  result.approvals.forEach((a, i) => {
    const why = refusal(a.approver, result.approvals.slice(0, i), input, rules);
    if (why) throw fail(why);
  });
  if (result.approvals.length < rules.quorum) {
    throw fail(`${result.approvals.length} of the ${rules.quorum} distinct approvals needed`);
  }
}
