import type { SnsCall } from '../../core/aws-api';
import { changeEvent, type EventPublisher } from '../../core/change-events';
import type { OutcomeConfig } from '../../core/config';
import { notifyOutcomeEvent, parseEvent } from '../../core/events';
import type { Outcome } from '../../core/types';
import { startInvocation, type Logger } from '../runtime/logger';
import { outcomeOf } from './outcome';

/** What NotifyOutcome works with. */
export interface NotifyOutcomeDeps {
  sns: SnsCall;
  /** Publishes Key Material Restored and Change Failed. */
  events: EventPublisher;
  config: OutcomeConfig;
  logger: Logger;
}

const FAILURES = ['REJECTED', 'TIMED_OUT', 'REFUSED', 'FAILED'] as const;
const isFailure = (status: Outcome['status']): status is (typeof FAILURES)[number] =>
  (FAILURES as readonly string[]).includes(status);

/** NotifyOutcome: one outcome message per change, and the execution's output. */
export function createNotifyOutcome({
  sns,
  events,
  config,
  logger,
}: NotifyOutcomeDeps): (event: unknown) => Promise<Outcome> {
  return async (event) => {
    const e = parseEvent(notifyOutcomeEvent, event, 'NotifyOutcome');
    const outcome = outcomeOf(e.state, e.executionInput);
    startInvocation(logger, { executionId: e.executionId, changeId: outcome.changeId, keyArn: outcome.keyArn });
    await sns('Publish', {
      TopicArn: config.outcomeTopicArn,
      Subject:
        `keymat ${outcome.changeId ?? '(invalid change)'}: ${outcome.status}${outcome.error ? ` ${outcome.error}` : ''}`.slice(
          0,
          100,
        ),
      Message: JSON.stringify({ executionId: e.executionId, ...outcome }, null, 2),
      MessageAttributes: {
        event: { DataType: 'String', StringValue: 'Outcome' },
        status: { DataType: 'String', StringValue: outcome.status },
        executionId: { DataType: 'String', StringValue: e.executionId },
      },
    });
    const status = outcome.status;
    const { input, plan, restoration } = e.state;
    if (status === 'RESTORED' && input && plan && restoration) {
      // Published once VerifyPendingImport saw the material back: a restore is announced when it took effect.
      await events.publish(
        changeEvent(
          'Key Material Restored',
          {
            executionArn: e.executionId,
            changeId: input.changeId,
            keyArn: plan.keyArn,
            keyMaterialId: plan.keyMaterialId,
            requestedBy: input.requestedBy,
            approvedBy: outcome.approvals.map((a) => a.approver),
            custodian: restoration.custodian,
            submissionDigest: restoration.submissionDigest,
            kmsRequestId: restoration.kmsRequestId,
            keyStateAfter: outcome.keyStateAfter ?? plan.expectedKeyState,
            ...(plan.validTo !== undefined && { validTo: plan.validTo }),
          },
          new Date(restoration.at),
        ),
      );
    }
    if (outcome.error !== undefined && isFailure(status)) {
      await events.publish(
        changeEvent(
          'Change Failed',
          {
            executionArn: e.executionId,
            ...(outcome.changeId !== undefined && { changeId: outcome.changeId }),
            ...(outcome.keyArn !== undefined && { keyArn: outcome.keyArn }),
            ...(outcome.keyMaterialId !== undefined && { keyMaterialId: outcome.keyMaterialId }),
            status,
            error: outcome.error,
            ...(outcome.cause !== undefined && { cause: outcome.cause }),
          },
          new Date(),
        ),
      );
    }
    logger.info('outcome', { ...outcome });
    return outcome;
  };
}
