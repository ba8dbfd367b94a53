import type { SsmCall } from '../../core/aws-api';
import type { CalendarReading } from '../../core/change-window';
import { awsClient, type AwsClientOptions } from './aws-client';

/**
 * A Systems Manager client for GetCalendarState, one attempt per call: the state machine retries its transient errors.
 *
 * @param options - Where and as whom to call. @default the function's Region and the Lambda runtime's credentials
 */
export const createSsmClient = (options: AwsClientOptions = {}): SsmCall =>
  awsClient('ssm', { maxAttempts: 1, ...options });

/** Reads the change calendars' combined state now (GetCalendarState: OPEN only when every calendar is open). */
export type CalendarReader = (calendars: string[], now: Date) => Promise<CalendarReading>;

/** GetCalendarState over the calendars, as one reading. */
export function ssmCalendarReader(ssm: SsmCall): CalendarReader {
  return async (calendars, now) => {
    const answer = await ssm('GetCalendarState', { CalendarNames: calendars });
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
