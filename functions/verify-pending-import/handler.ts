import { createKmsClient, readKey } from '../runtime/aws';
import { KeymatError, VERIFICATION_PENDING } from '../../core/errors';
import { parseEvent, taskEvent } from '../../core/events';
import { logger, startInvocation } from '../runtime/logger';
import { verifyAgainstPlan } from '../../core/plan';
import type { VerificationResult } from '../../core/types';

const kms = createKmsClient();

/** Right after a change KMS may answer these for a while (shared/reference/kms.md, "Eventual consistency"). */
const NOT_YET_VISIBLE = new Set(['NotFoundException', 'KMSInvalidStateException']);

/**
 * VerifyPendingImport: checks that the key reached the plan's expected post-state. While it still shows the state
 * before the deletion it throws VerificationPending, which the state machine retries within a bound and then ends
 * as VerificationFailed. It never reports success on a state it did not see.
 */
export async function handler(event: unknown): Promise<VerificationResult> {
  const e = parseEvent(taskEvent, event, 'VerifyPendingImport');
  startInvocation({ executionId: e.executionId, changeId: e.input.changeId, keyArn: e.plan.keyArn });
  let snapshot;
  try {
    snapshot = await readKey(kms, e.plan.keyArn);
  } catch (err) {
    if (!NOT_YET_VISIBLE.has((err as Error).name)) throw err;
    throw new KeymatError(VERIFICATION_PENDING, `key ${e.plan.keyArn} is not readable yet: ${(err as Error).message}`, {
      cause: err,
    });
  }
  const verified = verifyAgainstPlan(snapshot, e.plan, new Date());
  if (!verified) {
    throw new KeymatError(
      VERIFICATION_PENDING,
      `key ${e.plan.keyArn} still shows ${snapshot.metadata.KeyState}; expected ${e.plan.expectedKeyState}`,
    );
  }
  logger.info('post-state verified', { ...verified });
  return verified;
}
