import { InvokeCommand, LambdaClient } from '@aws-sdk/client-lambda';
import type { LambdaCall } from '../../core/aws-api';
import { approvedTicket, type ChangeTicket, type TicketRequest } from '../../core/change-ticket';
import { KeymatError, shown } from '../../core/errors';
import { awsCall, sdkConfig, type AwsClientOptions } from './aws';

/**
 * A Lambda client for the change-ticket check, one attempt per call: the state machine retries its transient errors.
 *
 * @param options - Where and as whom to call.
 */
export const createLambdaClient = (options: AwsClientOptions = {}): LambdaCall =>
  awsCall(new LambdaClient(sdkConfig({ maxAttempts: 1, ...options })), { Invoke: InvokeCommand });

/** Asks the organisation's change-ticket check about a change: APPROVED, or the change is refused. */
export type TicketCheck = (request: TicketRequest, now: Date) => Promise<ChangeTicket>;

/**
 * The change-ticket check as a Lambda function invoked synchronously with the request as its event. A function that
 * fails (an unhandled error, a timeout inside it) does not confirm the change, so the change is refused, with the
 * function's error in the cause.
 */
export function lambdaTicketCheck(lambda: LambdaCall, functionArn: string): TicketCheck {
  return async (request, now) => {
    const result = await lambda('Invoke', {
      FunctionName: functionArn,
      InvocationType: 'RequestResponse',
      Payload: new TextEncoder().encode(JSON.stringify(request)),
    });
    const text = result.Payload === undefined ? '' : new TextDecoder().decode(result.Payload);
    if (result.FunctionError !== undefined) {
      throw new KeymatError(
        'ChangeTicketNotApproved',
        `the change-ticket check ${functionArn} failed for change ${request.changeId} (${result.FunctionError}: ${shown(text.slice(0, 300))}); keymat refuses a change it cannot confirm`,
      );
    }
    let answer: unknown;
    try {
      answer = JSON.parse(text);
    } catch {
      answer = text;
    }
    return approvedTicket(answer, request, functionArn, now);
  };
}
