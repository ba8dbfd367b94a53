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
 * they are CLOSED it says until when the state machine should wait (the next transition, bounded by the deadline) and
 * is asked again after the wait; CLOSED at the deadline ends the change ChangeWindowClosed, with nothing deleted.
 *
 * The deadline is the first check's own time plus the maximum wait, and every later check reads that start back from
 * its own previous result: no time an approval answer claims (nothing has verified it yet) can move it.
 */
export function createCheckChangeWindow({
  calendars,
  config,
  logger,
}: CheckChangeWindowDeps): (event: unknown) => Promise<WindowCheck> {
  return async (event) => {
    const { executionId, state } = parseEvent(checkChangeWindowEvent, event, 'CheckChangeWindow');
    startInvocation(logger, { executionId, changeId: state.input.changeId, keyArn: state.plan.keyArn });
    const now = new Date();
    const reading = await calendars(config.changeCalendars, now);
    const since = state.changeWindow === undefined ? now : new Date(state.changeWindow.since);
    const step = nextWindowStep(reading, since, config.maxWaitSeconds, now);
    logger.info('change window', { ...step });
    return step;
  };
}
