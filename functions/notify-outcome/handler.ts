import { configFromEnvironment } from '../../core/config';
import { createSnsClient } from '../runtime/aws';
import { createEventsClient, eventBridgePublisher } from '../runtime/events';
import { createLogger, withLambdaContext } from '../runtime/logger';
import { createNotifyOutcome } from './notify-outcome';

const logger = createLogger();
const config = configFromEnvironment('NotifyOutcome');
const notifyOutcome = createNotifyOutcome({
  sns: createSnsClient(),
  events: eventBridgePublisher(createEventsClient(), config.eventBusName),
  config,
  logger,
});

/** NotifyOutcome's Lambda entry point. */
export const handler = withLambdaContext(logger, notifyOutcome);
