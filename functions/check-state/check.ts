import { KeymatError } from '../../core/errors';
import type { CheckDecision, Plan } from '../../core/types';

/**
 * Decides from the key state whether the deletion can go ahead. KMS deletes imported material only from a key that
 * is Enabled, Disabled or PendingImport, so: Enabled/Disabled proceed; PendingImport proceeds unless the target is already deleted (an idempotent re-run);
 * PendingDeletion is refused because the deletion would not change the state; transitional states are refused.
 * A restore's plan is decided by its own rules (`decideRestore`).
 */
export function decide(plan: Plan): CheckDecision {
  if (plan.restore) return decideRestore(plan);
  switch (plan.keyStateBefore) {
    case 'Enabled':
    case 'Disabled':
    case 'PendingImport':
      return plan.alreadyDeleted ? 'ALREADY_DELETED' : 'PROCEED';
    case 'PendingDeletion':
    case 'PendingReplicaDeletion':
      throw new KeymatError(
        'KeyPendingDeletion',
        `key ${plan.keyArn} is ${plan.keyStateBefore}: deleting its material would not change its state; cancel the key deletion first if the material must go`,
      );
    default:
      throw new KeymatError(
        'KeyStateNotDeletable',
        `key ${plan.keyArn} is ${plan.keyStateBefore}; KMS cannot delete imported material in that state, try again when it is Enabled or Disabled`,
      );
  }
}

/**
 * Decides whether a restore can go ahead: KMS imports into a key that is Enabled, Disabled or PendingImport, and only
 * a deleted material (PENDING_IMPORT) has anything to bring back.
 */
function decideRestore(plan: Plan): CheckDecision {
  if (!['Enabled', 'Disabled', 'PendingImport'].includes(plan.keyStateBefore)) {
    throw new KeymatError(
      'KeyStateNotRestorable',
      `key ${plan.keyArn} is ${plan.keyStateBefore}; KMS imports material only into a key that is Enabled, Disabled or PendingImport${plan.keyStateBefore === 'PendingDeletion' ? ': cancel the key deletion first' : ''}`,
    );
  }
  if (!plan.alreadyDeleted) {
    throw new KeymatError(
      'NothingToRestore',
      `material ${plan.keyMaterialId} of key ${plan.keyArn} is ${plan.importStateBefore}, not deleted: there is nothing to restore`,
    );
  }
  return 'PROCEED';
}
