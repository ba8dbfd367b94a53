import { configFromEnvironment } from '../../core/config';
import { createSecretsClient, createSnsClient } from '../runtime/aws';
import { createSsmClient, ssmCalendarReader } from '../runtime/calendars';
import { createEventsClient, eventBridgePublisher } from '../runtime/events';
import { createLogger, withLambdaContext } from '../runtime/logger';
import { createRequestApproval } from './request-approval';

const logger = createLogger();
const config = configFromEnvironment('RequestApproval');
const requestApproval = createRequestApproval({
  sns: createSnsClient(),
  secrets: createSecretsClient(),
  events: eventBridgePublisher(createEventsClient(), config.eventBusName),
  calendars: ssmCalendarReader(createSsmClient()),
  config,
  logger,
});

/** RequestApproval's Lambda entry point. */
export const handler = withLambdaContext(logger, requestApproval);
