import { KeymatError, type TerminalErrorName } from './errors';
import type { Approval, ApprovalResult, ApprovalRules, ChangeInput, Plan } from './types';

/**
 * Whether two identities are the same person. Plain string equality for now; every comparison of identities goes
 * through here so that a canonical form (an assumed-role session against its role, say) can replace it in one place.
 */
export function sameIdentity(a: string, b: string): boolean {
  return a === b;
}

/** Why an approval is refused, by rule: the caller picks its answer (an HTTP status, an exit code) from the code. */
export type RefusalCode = 'REQUESTER' | 'ALREADY_APPROVED' | 'NOT_ALLOWED';

/** A refused approval: the rule it breaks and a sentence saying so, naming the approver. */
export interface Refusal {
  code: RefusalCode;
  message: string;
}

/**
 * Why `approver` may not add an approval to `soFar`, or undefined when they may: the requester never approves, an
 * approver counts once, and a configured list of approvers is closed.
 */
export function refusal(
  approver: string,
  soFar: ApprovalResult['approvals'],
  input: ChangeInput,
  rules: ApprovalRules,
): Refusal | undefined {
  if (sameIdentity(approver, input.requestedBy)) {
    return { code: 'REQUESTER', message: `the requester ${approver} cannot approve their own change` };
  }
  if (soFar.some((a) => sameIdentity(a.approver, approver))) {
    return { code: 'ALREADY_APPROVED', message: `${approver} has already approved this change` };
  }
  if (rules.allowedApprovers.length > 0 && !rules.allowedApprovers.some((a) => sameIdentity(a, approver))) {
    return {
      code: 'NOT_ALLOWED',
      message: `${approver} is not one of the allowed approvers (${rules.allowedApprovers.join(', ')})`,
    };
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
    if (why) throw fail(why.message);
  });
  if (result.approvals.length < rules.quorum) {
    throw fail(`${result.approvals.length} of the ${rules.quorum} distinct approvals needed`);
  }
}
