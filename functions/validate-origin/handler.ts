import { configFromEnvironment } from '../../core/config';
import { kmsAttestor } from '../runtime/attestor';
import { createKmsClient } from '../runtime/aws';
import { createEventsClient, eventBridgePublisher } from '../runtime/events';
import { createLogger, withLambdaContext } from '../runtime/logger';
import { onDemandCalendarReader, onDemandTicketCheck } from '../runtime/on-demand';
import { createValidateOrigin } from './validate-origin';

const logger = createLogger();
const kms = createKmsClient();
const config = configFromEnvironment('ValidateOrigin');
const validateOrigin = createValidateOrigin({
  kms,
  attestor: kmsAttestor(kms, config.attestationKeyArn),
  events: eventBridgePublisher(createEventsClient(), config.eventBusName),
  calendars: onDemandCalendarReader(),
  ...(config.changeTicketFunctionArn !== undefined && {
    tickets: onDemandTicketCheck(config.changeTicketFunctionArn),
  }),
  config,
  logger,
});

/** ValidateOrigin's Lambda entry point. */
export const handler = withLambdaContext(logger, validateOrigin);
