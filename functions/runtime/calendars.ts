import { GetAutomationExecutionCommand, GetCalendarStateCommand, SSMClient } from '@aws-sdk/client-ssm';
import type { SsmCall } from '../../core/aws-api';
import type { CalendarReading } from '../../core/change-window';
import { awsCall, sdkConfig, type AwsClientOptions } from './aws';

/**
 * A Systems Manager client (GetCalendarState for the tasks, GetAutomationExecution for the gateway's runbook starts).
 *
 * @param options - Where and as whom to call; `maxAttempts` @default 1: the state machine retries the tasks' transient
 *   errors
 */
export const createSsmClient = (options: AwsClientOptions = {}): SsmCall =>
  awsCall(new SSMClient(sdkConfig({ maxAttempts: 1, ...options })), {
    GetCalendarState: GetCalendarStateCommand,
    GetAutomationExecution: GetAutomationExecutionCommand,
  });

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
