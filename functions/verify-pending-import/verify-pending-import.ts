import { KeymatError, VERIFICATION_PENDING, hasErrorName } from '../../core/errors';
import { parseEvent, taskEvent } from '../../core/events';
import { placeOfKeyArn } from '../../core/organisation';
import { verifyAgainstPlan, type KeySnapshot } from '../../core/plan';
import type { VerificationResult } from '../../core/types';
import { readKey } from '../runtime/aws';
import type { KeyAccess } from '../runtime/key-access';
import { startInvocation, type Logger } from '../runtime/logger';

/** What VerifyPendingImport works with. */
export interface VerifyPendingImportDeps {
  /** KMS on the key, in its account (the member read role) and Region. */
  keys: KeyAccess;
  logger: Logger;
}

/**
 * KMS is eventually consistent: right after a change it may answer these for a while, which means "not visible
 * yet" rather than a failure.
 */
const NOT_YET_VISIBLE = ['NotFoundException', 'KMSInvalidStateException'] as const;

/**
 * VerifyPendingImport: checks that the key reached the plan's expected post-state. While it still shows the state
 * before the deletion it throws VerificationPending, which the state machine retries within a bound and then ends
 * as VerificationFailed. It never reports success on a state it did not see.
 */
export function createVerifyPendingImport({
  keys,
  logger,
}: VerifyPendingImportDeps): (event: unknown) => Promise<VerificationResult> {
  return async (event) => {
    const e = parseEvent(taskEvent, event, 'VerifyPendingImport');
    startInvocation(logger, { executionId: e.executionId, changeId: e.input.changeId, keyArn: e.plan.keyArn });
    const kms = await keys({ executionArn: e.executionId, changeId: e.input.changeId })(placeOfKeyArn(e.plan.keyArn));
    let snapshot: KeySnapshot;
    try {
      snapshot = await readKey(kms, e.plan.keyArn);
    } catch (err) {
      if (!hasErrorName(err, ...NOT_YET_VISIBLE)) throw err;
      throw new KeymatError(
        VERIFICATION_PENDING,
        `key ${e.plan.keyArn} is not readable yet: ${(err as Error).message}`,
        { cause: err },
      );
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
  };
}
