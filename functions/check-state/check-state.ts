import { parseEvent, taskEvent } from '../../core/events';
import type { CheckDecision } from '../../core/types';
import { startInvocation, type Logger } from '../runtime/logger';
import { decide } from './check';

/** What CheckState works with: it decides from the plan alone. */
export interface CheckStateDeps {
  logger: Logger;
}

/** CheckState's result: go ahead, or nothing to do. */
export interface CheckStateResult {
  decision: CheckDecision;
}

/** CheckState: whether the key's state allows the deletion, or makes it a no-op. */
export function createCheckState({ logger }: CheckStateDeps): (event: unknown) => Promise<CheckStateResult> {
  return async (event) => {
    const e = parseEvent(taskEvent, event, 'CheckState');
    startInvocation(logger, { executionId: e.executionId, changeId: e.input.changeId, keyArn: e.plan.keyArn });
    const decision = decide(e.plan);
    logger.info('state checked', { keyState: e.plan.keyStateBefore, decision });
    return { decision };
  };
}
