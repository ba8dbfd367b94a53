import { ChangeClient } from '../../core/change-client';
import { configFromEnvironment } from '../../core/config';
import { kmsAttestor } from '../runtime/attestor';
import { awsClient } from '../runtime/aws-client';
import { createKmsClient, createSfnClient } from '../runtime/aws';
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
    events: eventBridgePublisher(createEventsClient(), config.eventBusName),
  }),
  attestor,
  // Runbook starts answer the automation at once: the standard retries, unlike the state machine's SSM calls.
  ssm: awsClient('ssm'),
  config,
  logger,
});

/** The gateway's Lambda entry point (Function URL with AuthType AWS_IAM, and the runbook's direct invocation). */
export const handler = withLambdaContext(logger, gateway);
