import { GetCalendarStateCommand, SSMClient, type SSMClientConfig } from '@aws-sdk/client-ssm';
import type { CalendarReading } from '../../core/change-window';
import { withNamedNetworkErrors } from './aws';

/**
 * A Systems Manager client for GetCalendarState; the state machine retries its transient errors.
 *
 * @param config - Where and as whom to call. @default the SDK's resolution from the Lambda runtime
 */
export const createSsmClient = (config: SSMClientConfig = {}): SSMClient =>
  withNamedNetworkErrors(new SSMClient({ ...config, maxAttempts: 1 }));

/** Reads the change calendars' combined state now (GetCalendarState: OPEN only when every calendar is open). */
export type CalendarReader = (calendars: string[], now: Date) => Promise<CalendarReading>;

/** GetCalendarState over the calendars, as one reading. */
export function ssmCalendarReader(ssm: SSMClient): CalendarReader {
  return async (calendars, now) => {
    const answer = await ssm.send(new GetCalendarStateCommand({ CalendarNames: calendars }));
    if (answer.State !== 'OPEN' && answer.State !== 'CLOSED') {
      throw new Error(`GetCalendarState answered state ${String(answer.State)} for ${calendars.join(', ')}`);
    }
    return {
      calendars,
      state: answer.State,
      checkedAt: now.toISOString(),
      ...(answer.NextTransitionTime && { nextTransitionTime: new Date(answer.NextTransitionTime).toISOString() }),
    };
  };
}
