import { configFromEnvironment } from '../../core/config';
import { kmsAttestor } from '../runtime/attestor';
import { MEMBER_DELETE_ROLE } from '../../core/organisation';
import { createKmsClient, createSnsClient } from '../runtime/aws';
import { createEventsClient, eventBridgePublisher } from '../runtime/events';
import { createKeyAccess } from '../runtime/key-access';
import { createLogger, withLambdaContext } from '../runtime/logger';
import { createDeleteMaterial } from './delete-material';

const logger = createLogger();
const config = configFromEnvironment('DeleteMaterial');
const deleteMaterial = createDeleteMaterial({
  keys: createKeyAccess({ scope: config.scope, role: MEMBER_DELETE_ROLE }),
  sns: createSnsClient(),
  attestor: kmsAttestor(createKmsClient(), config.attestationKeyArn),
  events: eventBridgePublisher(createEventsClient(), config.eventBusName),
  config,
  logger,
});

/** DeleteMaterial's Lambda entry point. */
export const handler = withLambdaContext(logger, deleteMaterial);
