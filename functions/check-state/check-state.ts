import { parseEvent, taskEvent } from '../../core/events';
import { proofAsked } from '../../core/recovery';
import type { CheckDecision, ProofDecision } from '../../core/types';
import { startInvocation, type Logger } from '../runtime/logger';
import { decide } from './check';

/** What CheckState works with: it decides from the plan alone. */
export interface CheckStateDeps {
  logger: Logger;
}

/** CheckState's result: go ahead, or nothing to do; and whether to ask the custodians for a recovery proof first. */
export interface CheckStateResult {
  decision: CheckDecision;
  recoveryProof: ProofDecision;
}

/** CheckState: whether the key's state allows the deletion, or makes it a no-op, and whether a proof is asked. */
export function createCheckState({ logger }: CheckStateDeps): (event: unknown) => Promise<CheckStateResult> {
  return async (event) => {
    const e = parseEvent(taskEvent, event, 'CheckState');
    startInvocation(logger, { executionId: e.executionId, changeId: e.input.changeId, keyArn: e.plan.keyArn });
    const decision = decide(e.plan);
    // A restore asks for its copy only once approved (the workflow goes from its quorum to the import parameters).
    const recoveryProof = decision === 'PROCEED' && !e.plan.restore && proofAsked(e.plan) ? 'ASK' : 'NOT_ASKED';
    logger.info('state checked', { keyState: e.plan.keyStateBefore, decision, recoveryProof });
    return { decision, recoveryProof };
  };
}
