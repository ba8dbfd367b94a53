import { attestationMessage, type Attestor, type DecisionClaims } from './attestation';
import { KeymatError, type TerminalErrorName } from './errors';
import { matchesApprover, samePrincipal } from './identity';
import type { ApprovalRule } from './organisation';
import { irreversibleToConfirm } from './recovery';
import type { Approval, ApprovalResult, ApprovalRules, ChangeInput, Plan, RecoveryProven } from './types';

/** Why an approval is refused, by rule: the caller picks its answer (an HTTP status, an exit code) from the code. */
export type RefusalCode = 'REQUESTER' | 'ALREADY_APPROVED' | 'NOT_ALLOWED';

/** A refused approval: the rule it breaks and a sentence saying so, naming the approver. */
export interface Refusal {
  code: RefusalCode;
  message: string;
}

/**
 * The approval rules a change on a key takes, decided once, by ValidateOrigin, into the plan: the first of the
 * deployment's ordered rules that matches the key's account or one of the OUs above it, else the deployment's own
 * quorum and approvers (the definition's).
 *
 * @param organizationalUnitIds - The OUs from the root down to the account (none when the deployment has no members).
 */
export function chooseRules(
  rules: readonly ApprovalRule[],
  account: string,
  organizationalUnitIds: readonly string[],
  deployment: ApprovalRules,
): ApprovalRules {
  const rule = rules.find((r) =>
    'account' in r.match ? r.match.account === account : organizationalUnitIds.includes(r.match.organizationalUnit),
  );
  if (rule === undefined) return { quorum: deployment.quorum, allowedApprovers: deployment.allowedApprovers };
  return { rule: rule.name, quorum: rule.quorum, allowedApprovers: rule.approvers ?? [] };
}

/** Whether a principal is one of the configured approvers (any principal when none are configured). */
export const isAllowedApprover = (principal: string, rules: ApprovalRules): boolean =>
  rules.allowedApprovers.length === 0 || rules.allowedApprovers.some((p) => matchesApprover(principal, p));

/**
 * Why `approver` (a canonical principal) may not add an approval to `soFar`, or undefined when they may: the
 * requester never approves, an approver counts once, and a configured list of approvers is closed.
 */
export function refusal(
  approver: string,
  soFar: ApprovalResult['approvals'],
  input: ChangeInput,
  rules: ApprovalRules,
): Refusal | undefined {
  if (samePrincipal(approver, input.requestedBy)) {
    return { code: 'REQUESTER', message: `the requester ${approver} cannot approve their own change` };
  }
  if (soFar.some((a) => samePrincipal(a.approver, approver))) {
    return { code: 'ALREADY_APPROVED', message: `${approver} has already approved this change` };
  }
  if (!isAllowedApprover(approver, rules)) {
    return {
      code: 'NOT_ALLOWED',
      message: `${approver} is not one of the allowed approvers (${rules.allowedApprovers.join(', ')})`,
    };
  }
  return undefined;
}

/**
 * Whether `by` may reject: an allowed approver, or the requester (who withdraws the change). With no approver list,
 * anyone who could approve may reject.
 */
export function rejectionRole(
  by: string,
  input: ChangeInput,
  rules: ApprovalRules,
): 'REQUESTER' | 'APPROVER' | undefined {
  if (samePrincipal(by, input.requestedBy)) return 'REQUESTER';
  return isAllowedApprover(by, rules) ? 'APPROVER' : undefined;
}

/** The round an approval answers when `soFar` approvals were given before it. */
export const roundAfter = (soFar: readonly Approval[]): number => soFar.length + 1;

/** What an approval answers: one run of an execution (its ARN and attested start), one plan, and its proof if any. */
export interface ApprovalSubject {
  executionArn: string;
  /** The run's start attestation time (`ChangeInput.startedAt`). */
  startedAt: string;
  planDigest: string;
  /** The recovery proof's submission digest, when the change has one. @default none */
  recoveryProof?: string;
}

const claimsOf = (
  { executionArn, startedAt, planDigest, recoveryProof }: ApprovalSubject,
  a: Omit<Approval, 'mac'>,
): DecisionClaims => ({
  kind: 'decision',
  executionArn,
  startedAt,
  round: a.round,
  approver: a.approver,
  decision: 'approve',
  planDigest,
  recoveryProof: recoveryProof ?? '',
  irreversible: a.irreversible ?? false,
  at: a.at,
  channel: a.channel,
  comment: a.comment ?? '',
});

/**
 * The answer to an approval round: the approvals so far plus this one, attested — MACed over the execution, the
 * round, the approver, the plan digest, the recovery proof, the confirmation of irreversibility, the time, the
 * channel and the comment.
 */
export async function withApproval(
  attestor: Attestor,
  subject: ApprovalSubject,
  soFar: ApprovalResult['approvals'],
  decision: { approver: string; channel: string; comment?: string; irreversible?: boolean },
  at: Date = new Date(),
): Promise<ApprovalResult> {
  const unsigned: Omit<Approval, 'mac'> = {
    approver: decision.approver,
    at: at.toISOString(),
    channel: decision.channel,
    ...(decision.comment && { comment: decision.comment }),
    ...(decision.irreversible && { irreversible: true }),
    round: roundAfter(soFar),
  };
  const mac = await attestor.sign(attestationMessage(claimsOf(subject, unsigned)));
  return { planDigest: subject.planDigest, approvals: [...soFar, { ...unsigned, mac }] };
}

/** SendTaskFailure's error and cause for a rejection: the change ends ApprovalRejected, naming who and why. */
export const rejection = (rejectedBy: string, role: 'REQUESTER' | 'APPROVER', channel: string, comment?: string) => ({
  error: 'ApprovalRejected' as const satisfies TerminalErrorName,
  cause:
    `${role === 'REQUESTER' ? 'withdrawn by the requester' : 'rejected by'} ${rejectedBy} (${channel})${comment ? `: ${comment}` : ''}`.slice(
      0,
      32_768,
    ),
});

/**
 * Why `approver` may not approve a change with this proof (or none) without confirming irreversibility, or undefined
 * when they may: an unproven change whose proof was asked needs each approver's explicit confirmation.
 */
export function irreversibleRefusal(
  approver: string,
  plan: Plan,
  proof: RecoveryProven | undefined,
  irreversible: boolean,
): string | undefined {
  if (irreversible || !irreversibleToConfirm(plan, proof)) return undefined;
  return `${approver} did not confirm that the deletion may be irreversible: nobody proved that a copy of material ${plan.keyMaterialId} still exists (approve with --irreversible, or have a custodian prove recovery first)`;
}

/**
 * DeleteMaterial's check of the whole answer, trusting nothing in it that is not attested: bound to this plan and
 * this recovery proof, each approval MACed by keymat's attestation key for this execution and its own round, enough
 * distinct allowed approvers, never the requester, and each one's confirmation of irreversibility when the change is
 * unproven. Refuses ApprovalInvalid, saying which approval and why.
 */
export async function verifyApprovals(
  attestor: Attestor,
  executionArn: string,
  result: ApprovalResult,
  plan: Plan,
  input: ChangeInput,
  rules: ApprovalRules,
  proof?: RecoveryProven,
): Promise<void> {
  const fail = (why: string) => new KeymatError('ApprovalInvalid', `${why}; nothing was deleted`);
  if (result.planDigest !== plan.digest) {
    throw fail(`the approval was given for plan ${result.planDigest}, not for this plan ${plan.digest}`);
  }
  if (result.approvals.length === 0) throw fail('the approval names no approver');
  for (const [i, a] of result.approvals.entries()) {
    if (a.round !== i + 1) throw fail(`approval ${i + 1} (${a.approver}) claims round ${a.round}`);
    const subject = {
      executionArn,
      startedAt: input.startedAt ?? '',
      planDigest: plan.digest,
      ...(proof && { recoveryProof: proof.submissionDigest }),
    };
    const valid = await attestor.verify(attestationMessage(claimsOf(subject, a)), a.mac);
    if (!valid) {
      throw fail(
        `approval ${i + 1} (${a.approver}) is not attested by keymat for this execution, round, plan and recovery proof`,
      );
    }
    const why = refusal(a.approver, result.approvals.slice(0, i), input, rules);
    if (why) throw fail(why.message);
    const unconfirmed = irreversibleRefusal(a.approver, plan, proof, a.irreversible ?? false);
    if (unconfirmed) throw fail(`approval ${i + 1}: ${unconfirmed}`);
  }
  if (result.approvals.length < rules.quorum) {
    throw fail(`${result.approvals.length} of the ${rules.quorum} distinct approvals needed`);
  }
}

/**
 * DeleteMaterial's check that every approval is dated within its execution: not before the execution started, not
 * after `now`. The times are attested, so one outside the run means a signer's clock or key is not to be trusted for
 * this change. Refuses ApprovalInvalid, naming the approver and the time.
 */
export function checkApprovalTimes(result: ApprovalResult, executionStart: Date, now: Date): void {
  for (const [i, a] of result.approvals.entries()) {
    const at = Date.parse(a.at);
    const when = at < executionStart.getTime() ? 'before' : at > now.getTime() ? 'after' : undefined;
    if (Number.isNaN(at) || when !== undefined) {
      throw new KeymatError(
        'ApprovalInvalid',
        `approval ${i + 1} (${a.approver}) is dated ${JSON.stringify(a.at)}, ${when === 'after' ? `after now (${now.toISOString()})` : `not within its execution, which started at ${executionStart.toISOString()}`}; nothing was deleted`,
      );
    }
  }
}
