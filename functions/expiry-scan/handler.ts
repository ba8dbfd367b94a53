import { configFromEnvironment } from '../../core/config';
import { SCAN_KMS_MAX_ATTEMPTS } from '../../core/defaults';
import { MEMBER_READ_ROLE } from '../../core/organisation';
import { kmsAttestor } from '../runtime/attestor';
import {
  createKmsClient,
  createOrganizationsClient,
  createS3Client,
  createSfnClient,
  createSnsClient,
} from '../runtime/aws';
import { createEventsClient, eventBridgePublisher } from '../runtime/events';
import { createKeyAccess } from '../runtime/key-access';
import { createLogger, withLambdaContext } from '../runtime/logger';
import { createExpiryScan, scanSettings, scanStarter } from './expiry-scan';
import { createFleetScan, isFleetStep, partitionOf } from './fleet';

const logger = createLogger();
const config = configFromEnvironment('ExpiryScan');
const sfn = createSfnClient();
const sns = createSnsClient();
const attestor = kmsAttestor(createKmsClient(), config.attestationKeyArn);
const expiryScan = createExpiryScan({
  kms: createKmsClient({ maxAttempts: SCAN_KMS_MAX_ATTEMPTS }),
  sfn,
  sns,
  attestor,
  config,
  logger,
});
// With members, the fleet state machine invokes this function for each of its steps.
const fleetScan =
  config.members &&
  createFleetScan({
    organizations: createOrganizationsClient(),
    keys: createKeyAccess({ scope: config.scope, role: MEMBER_READ_ROLE, kmsMaxAttempts: SCAN_KMS_MAX_ATTEMPTS }),
    start: scanStarter(sfn, attestor, config),
    events: eventBridgePublisher(createEventsClient(), config.eventBusName),
    sns,
    s3: createS3Client(),
    config: {
      members: config.members,
      partition: partitionOf(config.stateMachineArn),
      ...scanSettings(config),
      outcomeTopicArn: config.outcomeTopicArn,
    },
    logger,
  });

/** The expiry scan's Lambda entry point: its schedule's run, or a step of the fleet scan. */
export const handler = withLambdaContext(logger, (event: unknown) =>
  fleetScan && isFleetStep(event) ? fleetScan(event) : expiryScan(event),
);
