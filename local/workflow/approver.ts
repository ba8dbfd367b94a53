import { rejection, withApproval } from '../../core/approvals';
import { approvalDecided } from '../../core/change-events';
import { KeymatError } from '../../core/errors';
import { irreversibleToConfirm } from '../../core/recovery';
import type { Decider } from './engine';

export type ApproveMode = 'auto' | 'reject' | 'none';

/**
 * The approver of `keymat local run --approve`: reads each request from the outbox and approves it (bound to the
 * plan digest the message carries and to the recovery proof, attested as keymat's gateway would attest it), one
 * round per listed approver in turn; or rejects it; or never answers, so that the approval times out. An unproven
 * change is approved only with `irreversible`: each approval then confirms that the deletion may be irreversible, as
 * `keymat approve --irreversible` does.
 */
export function localApprover(
  mode: ApproveMode,
  approvers: string | string[] = 'keymat-local-approver',
  options: { irreversible?: boolean } = {},
): Decider {
  const names = Array.isArray(approvers) ? approvers : [approvers];
  return async ({ executionArn, message, payload, attestor, events }) => {
    const soFar = payload.approval.approvals;
    const approver = names[soFar.length % names.length] as string;
    if (mode === 'none') return new Promise(() => undefined);
    const decided = { by: approver, channel: 'local-run' };
    if (mode === 'reject') {
      await events.publish(
        approvalDecided(executionArn, payload, { ...decided, decision: 'REJECTED', as: 'APPROVER' }, new Date()),
      );
      const { error, cause } = rejection(approver, 'APPROVER', 'local-run');
      throw new KeymatError(error, cause);
    }
    const proof = payload.recovery.proof;
    // Confirmed only where a confirmation is asked: the record then says exactly what the approver was shown.
    const irreversible = options.irreversible === true && irreversibleToConfirm(payload.plan, proof);
    await events.publish(
      approvalDecided(executionArn, payload, { ...decided, decision: 'APPROVED', irreversible }, new Date()),
    );
    const subject = {
      executionArn,
      startedAt: payload.input.startedAt ?? '',
      planDigest: message.attributes.planDigest ?? '',
      ...(proof && { recoveryProof: proof.submissionDigest }),
    };
    return withApproval(attestor, subject, soFar, { approver, channel: 'local-run', irreversible });
  };
}
