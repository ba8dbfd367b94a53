import { ChangeClient } from '../../core/change-client';
import { configFromEnvironment } from '../../core/config';
import { kmsAttestor } from '../runtime/attestor';
import { createKmsClient, createSfnClient, STANDARD_ATTEMPTS } from '../runtime/aws';
import { createSsmClient } from '../runtime/calendars';
import { createEventsClient, eventBridgePublisher } from '../runtime/events';
import { createLogger, withLambdaContext } from '../runtime/logger';
import { createGateway } from './gateway';

const logger = createLogger();
const config = configFromEnvironment('Gateway');
const attestor = kmsAttestor(createKmsClient(), config.attestationKeyArn);
const gateway = createGateway({
  changes: new ChangeClient({
    sfn: createSfnClient(),
    stateMachineArn: config.stateMachineArn,
    attestor,
    events: eventBridgePublisher(createEventsClient({ maxAttempts: STANDARD_ATTEMPTS }), config.eventBusName),
  }),
  attestor,
  // Runbook starts answer the automation at once: the standard retries, unlike the state machine's SSM calls.
  ssm: createSsmClient({ maxAttempts: STANDARD_ATTEMPTS }),
  config,
  logger,
});

/** The gateway's Lambda entry point (Function URL with AuthType AWS_IAM, and the runbook's direct invocation). */
export const handler = withLambdaContext(logger, gateway);
