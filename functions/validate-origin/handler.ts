import { configFromEnvironment } from '../../core/config';
import { kmsAttestor } from '../runtime/attestor';
import { MEMBER_READ_ROLE } from '../../core/organisation';
import { createKmsClient, createOrganizationsClient } from '../runtime/aws';
import { createSsmClient, ssmCalendarReader } from '../runtime/calendars';
import { createLambdaClient, lambdaTicketCheck } from '../runtime/change-tickets';
import { createEventsClient, eventBridgePublisher } from '../runtime/events';
import { createKeyAccess } from '../runtime/key-access';
import { createLogger, withLambdaContext } from '../runtime/logger';
import { createValidateOrigin } from './validate-origin';

const logger = createLogger();
const kms = createKmsClient();
const config = configFromEnvironment('ValidateOrigin');
const validateOrigin = createValidateOrigin({
  keys: createKeyAccess({ scope: config.scope, role: MEMBER_READ_ROLE }),
  ...(config.members !== undefined && { organizations: createOrganizationsClient() }),
  attestor: kmsAttestor(kms, config.attestationKeyArn),
  events: eventBridgePublisher(createEventsClient(), config.eventBusName),
  calendars: ssmCalendarReader(createSsmClient()),
  ...(config.changeTicketFunctionArn !== undefined && {
    tickets: lambdaTicketCheck(createLambdaClient(), config.changeTicketFunctionArn),
  }),
  config,
  logger,
});

/** ValidateOrigin's Lambda entry point. */
export const handler = withLambdaContext(logger, validateOrigin);
