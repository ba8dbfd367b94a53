import { nextWindowStep, type WindowCheck } from '../../core/change-window';
import type { CheckChangeWindowConfig } from '../../core/config';
import { checkChangeWindowEvent, parseEvent } from '../../core/events';
import type { CalendarReader } from '../runtime/calendars';
import { startInvocation, type Logger } from '../runtime/logger';

/** What CheckChangeWindow works with. */
export interface CheckChangeWindowDeps {
  /** GetCalendarState over the deployment's calendars. */
  calendars: CalendarReader;
  config: CheckChangeWindowConfig;
  logger: Logger;
}

/**
 * CheckChangeWindow: between the last approval and DeleteMaterial, asks whether the change calendars are OPEN. When
 * they are CLOSED it says until when the state machine should wait (the next transition, bounded by the deadline: the
 * last approval's time plus the maximum wait) and is asked again after the wait; CLOSED at the deadline ends the
 * change ChangeWindowClosed, with nothing deleted.
 */
export function createCheckChangeWindow({
  calendars,
  config,
  logger,
}: CheckChangeWindowDeps): (event: unknown) => Promise<WindowCheck> {
  return async (event) => {
    const e = parseEvent(checkChangeWindowEvent, event, 'CheckChangeWindow');
    startInvocation(logger, { executionId: e.executionId, changeId: e.input.changeId, keyArn: e.plan.keyArn });
    const now = new Date();
    const reading = await calendars(config.changeCalendars, now);
    // The wait began with the last approval. Never later than now: the approvals are verified only by DeleteMaterial,
    // and an answer dated in the future must not stretch the bound.
    const times = e.approval.approvals.map((a) => Date.parse(a.at)).filter((t) => !Number.isNaN(t));
    const since = new Date(Math.min(now.getTime(), ...(times.length > 0 ? [Math.max(...times)] : [])));
    const step = nextWindowStep(reading, since, config.maxWaitSeconds, now);
    logger.info('change window', { ...step });
    return step;
  };
}
