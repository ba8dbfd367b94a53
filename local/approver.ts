import { KeymatError } from '../functions/shared/errors';
import type { Decider } from './engine';

export type ApproveMode = 'auto' | 'reject' | 'none';

/**
 * The approver of `keymat local run --approve`: reads the request from the outbox and approves it (bound to the
 * plan digest the message carries), rejects it, or never answers so that the approval times out.
 */
export function localApprover(mode: ApproveMode, approver = 'keymat-local-approver'): Decider {
  return async ({ message }) => {
    if (mode === 'reject') {
      throw new KeymatError('ApprovalRejected', `rejected by ${approver} (keymat local run --approve reject)`);
    }
    if (mode === 'none') return new Promise(() => undefined);
    return {
      planDigest: message.attributes.planDigest ?? '',
      approvals: [{ approver, at: new Date().toISOString(), channel: 'local-run' }],
    };
  };
}
