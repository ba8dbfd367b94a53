import { KeymatError } from './errors';
import { CALENDAR_ARN } from './naming';
import * as z from './schema';

/**
 * Freeze windows: a deployment may name SSM Change Calendars, and then DeleteMaterial runs only while every one of
 * them is OPEN. An approval given during a freeze is kept: the change is held (a task that waits on a token until the
 * calendars' next transition) and asks again, until a bound after which it ends ChangeWindowClosed. While it is held,
 * its requester may withdraw it and an allowed approver may reject it, on the hold's token.
 */

/** The fields of a calendar reading, which the window check extends. */
const calendarReadingShape = () => ({
  calendars: z.array(z.string()),
  state: z.enum(['OPEN', 'CLOSED']),
  /** When the state was read (ISO 8601). */
  checkedAt: z.string(),
  /** When the state changes next, if the calendars say (ISO 8601). */
  nextTransitionTime: z.optional(z.string()),
});

/** What GetCalendarState answered for the deployment's calendars (OPEN only when every one is open). */
export const calendarReadingSchema = z.lazy(() => z.object(calendarReadingShape()));
export type CalendarReading = z.infer<typeof calendarReadingSchema>;

/** CheckChangeWindow's result: the reading, the bound, and the next wait. */
export const windowCheckSchema = z.lazy(() =>
  z.object({
    ...calendarReadingShape(),
    /** When the change began to wait for its window: the time of its first check, right after the last approval. */
    since: z.string(),
    /** `since` plus the maximum wait: still CLOSED at this time ends the change ChangeWindowClosed. */
    deadline: z.string(),
    /** While CLOSED: when to ask again (the next transition, or the deadline if that comes first). */
    waitUntil: z.optional(z.string()),
    /**
     * While CLOSED: whole seconds from the check to `waitUntil`, rounded up and at least one, the hold's
     * `TimeoutSecondsPath` (Step Functions takes no timestamp there).
     */
    waitSeconds: z.optional(z.number().check(z.int(), z.gte(1))),
  }),
);
export type WindowCheck = z.infer<typeof windowCheckSchema>;

/** The calendars' names as a person reads them: the document name of an ARN. */
export const calendarLabel = (name: string): string => CALENDAR_ARN.exec(name)?.[1] ?? name;

/**
 * The next step of the wait for a window: go on (OPEN), wait until the next transition or the deadline, whichever
 * comes first (CLOSED), or end the change when the deadline has passed with the calendars still CLOSED.
 *
 * @param since - When the change began to wait for its window.
 * @param maxWaitSeconds - How long it may wait.
 * @throws KeymatError ChangeWindowClosed when the calendars are CLOSED at or after the deadline
 */
export function nextWindowStep(reading: CalendarReading, since: Date, maxWaitSeconds: number, now: Date): WindowCheck {
  const deadline = new Date(since.getTime() + maxWaitSeconds * 1000);
  const check: WindowCheck = { ...reading, since: since.toISOString(), deadline: deadline.toISOString() };
  if (reading.state === 'OPEN') return check;
  const names = reading.calendars.map(calendarLabel).join(', ');
  if (now.getTime() >= deadline.getTime()) {
    throw new KeymatError(
      'ChangeWindowClosed',
      `change calendar ${names} is still CLOSED at ${now.toISOString()}, and the change may wait for its window only until ${check.deadline}${reading.nextTransitionTime ? ` (it opens at ${reading.nextTransitionTime})` : ''}; nothing was deleted: start the change again when the window is open`,
    );
  }
  const next = reading.nextTransitionTime === undefined ? undefined : new Date(reading.nextTransitionTime);
  const until = next !== undefined && next.getTime() > now.getTime() && next < deadline ? next : deadline;
  const waitSeconds = Math.max(1, Math.ceil((until.getTime() - now.getTime()) / 1000));
  return { ...check, waitUntil: until.toISOString(), waitSeconds };
}

/** The window in words, for the plan, the approval request and `keymat status`. */
export function describeWindow(reading: CalendarReading): string {
  const names = reading.calendars.map(calendarLabel).join(', ');
  const next = reading.nextTransitionTime
    ? `, ${reading.state === 'OPEN' ? 'closes' : 'opens'} at ${reading.nextTransitionTime}`
    : '';
  return `Change window (${names}): ${reading.state} at ${reading.checkedAt}${next}${reading.state === 'CLOSED' ? '; an approved deletion waits for it' : ''}.`;
}
