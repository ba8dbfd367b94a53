import { nextWindowStep, type WindowCheck } from '../../core/change-window';
import type { CheckChangeWindowConfig } from '../../core/config';
import { checkChangeWindowEvent, parseEvent } from '../../core/events';
import type { CalendarReader } from '../runtime/calendars';
import { startInvocation, type Logger } from '../runtime/logger';

/**
 * When the wait for the window began: the last approval, as long as it is a time between the execution's start and
 * now; otherwise the execution's start. Either is fixed for the whole wait, so every check of one change counts to the
 * same deadline, whatever an answer to the approval task says its time is (DeleteMaterial verifies the approvals).
 */
function waitStart(approvals: readonly { at: string }[], executionStart: number, now: number): Date {
  const last = Math.max(...approvals.map((a) => Date.parse(a.at)).filter((t) => !Number.isNaN(t)));
  return new Date(Number.isFinite(last) && last >= executionStart && last <= now ? last : executionStart);
}

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
    const since = waitStart(e.approval.approvals, Date.parse(e.executionStartTime), now.getTime());
    const step = nextWindowStep(reading, since, config.maxWaitSeconds, now);
    logger.info('change window', { ...step });
    return step;
  };
}
