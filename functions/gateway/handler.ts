import { SSMClient } from '@aws-sdk/client-ssm';
import { SFNClient } from '@aws-sdk/client-sfn';
import { ChangeClient } from '../../core/change-client';
import { configFromEnvironment } from '../../core/config';
import { kmsAttestor } from '../runtime/attestor';
import { createKmsClient } from '../runtime/aws';
import { createEventsClient, eventBridgePublisher } from '../runtime/events';
import { createLogger, withLambdaContext } from '../runtime/logger';
import { createGateway } from './gateway';

const logger = createLogger();
const config = configFromEnvironment('Gateway');
const attestor = kmsAttestor(createKmsClient(), config.attestationKeyArn);
const gateway = createGateway({
  changes: new ChangeClient({
    sfn: new SFNClient({}),
    stateMachineArn: config.stateMachineArn,
    attestor,
    events: eventBridgePublisher(createEventsClient(), config.eventBusName),
  }),
  attestor,
  ssm: new SSMClient({}),
  config,
  logger,
});

/** The gateway's Lambda entry point (Function URL with AuthType AWS_IAM, and the runbook's direct invocation). */
export const handler = withLambdaContext(logger, gateway);
