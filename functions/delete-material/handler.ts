import { configFromEnvironment } from '../../core/config';
import { kmsAttestor } from '../runtime/attestor';
import { createKmsClient, createSnsClient } from '../runtime/aws';
import { createEventsClient, eventBridgePublisher } from '../runtime/events';
import { createLogger, withLambdaContext } from '../runtime/logger';
import { createDeleteMaterial } from './delete-material';

const logger = createLogger();
const kms = createKmsClient();
const config = configFromEnvironment('DeleteMaterial');
const deleteMaterial = createDeleteMaterial({
  kms,
  sns: createSnsClient(),
  attestor: kmsAttestor(kms, config.attestationKeyArn),
  events: eventBridgePublisher(createEventsClient(), config.eventBusName),
  config,
  logger,
});

/** DeleteMaterial's Lambda entry point. */
export const handler = withLambdaContext(logger, deleteMaterial);
