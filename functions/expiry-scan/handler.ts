import { KMSClient } from '@aws-sdk/client-kms';
import { SFNClient } from '@aws-sdk/client-sfn';
import { configFromEnvironment } from '../../core/config';
import { kmsAttestor } from '../runtime/attestor';
import { createKmsClient, createSnsClient } from '../runtime/aws';
import { createLogger, withLambdaContext } from '../runtime/logger';
import { createExpiryScan } from './expiry-scan';

const logger = createLogger();
const config = configFromEnvironment('ExpiryScan');
const expiryScan = createExpiryScan({
  // The SDK's standard retry backs off on ThrottlingException; the scan paces itself below the quotas as well.
  kms: new KMSClient({ maxAttempts: 8 }),
  sfn: new SFNClient({}),
  sns: createSnsClient(),
  attestor: kmsAttestor(createKmsClient(), config.attestationKeyArn),
  config,
  logger,
});

/** The expiry scan's Lambda entry point, run on its schedule. */
export const handler = withLambdaContext(logger, expiryScan);
