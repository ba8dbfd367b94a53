import { configFromEnvironment } from '../../core/config';
import { createSecretsClient, createSnsClient } from '../runtime/aws';
import { createEventsClient, eventBridgePublisher } from '../runtime/events';
import { createLogger, withLambdaContext } from '../runtime/logger';
import { onDemandCalendarReader } from '../runtime/on-demand';
import { createRequestApproval } from './request-approval';

const logger = createLogger();
const config = configFromEnvironment('RequestApproval');
const requestApproval = createRequestApproval({
  sns: createSnsClient(),
  secrets: createSecretsClient(),
  events: eventBridgePublisher(createEventsClient(), config.eventBusName),
  calendars: onDemandCalendarReader(),
  config,
  logger,
});

/** RequestApproval's Lambda entry point. */
export const handler = withLambdaContext(logger, requestApproval);
