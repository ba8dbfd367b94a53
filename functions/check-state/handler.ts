import { parseEvent, taskEvent } from '../../core/events';
import { logger, startInvocation } from '../runtime/logger';
import type { CheckDecision } from '../../core/types';
import { decide } from './check';

/** CheckState: whether the key's state allows the deletion, or makes it a no-op. */
export async function handler(event: unknown): Promise<{ decision: CheckDecision }> {
  const e = parseEvent(taskEvent, event, 'CheckState');
  startInvocation({ executionId: e.executionId, changeId: e.input.changeId, keyArn: e.plan.keyArn });
  const decision = decide(e.plan);
  logger.info('state checked', { keyState: e.plan.keyStateBefore, decision });
  return { decision };
}
