import type { CalendarReader } from './calendars';
import type { TicketCheck } from './change-tickets';

/**
 * The clients of the optional change-management features, loaded on first use: a deployment without change calendars
 * or a change-ticket check never loads the SSM or Lambda client (the bundle keeps each in a chunk of its own), and one
 * with them loads it at the first call that needs it.
 */

/** GetCalendarState, its SSM client made on first use. */
export function onDemandCalendarReader(): CalendarReader {
  let reader: Promise<CalendarReader> | undefined;
  return async (calendars, now) => {
    reader ??= import('./calendars.js').then((m) => m.ssmCalendarReader(m.createSsmClient()));
    return (await reader)(calendars, now);
  };
}

/** The change-ticket check, its Lambda client made on first use. */
export function onDemandTicketCheck(functionArn: string): TicketCheck {
  let check: Promise<TicketCheck> | undefined;
  return async (request, now) => {
    check ??= import('./change-tickets.js').then((m) => m.lambdaTicketCheck(m.createLambdaClient(), functionArn));
    return (await check)(request, now);
  };
}
