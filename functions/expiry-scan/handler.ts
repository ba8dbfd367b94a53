import { configFromEnvironment } from '../../core/config';
import { SCAN_KMS_MAX_ATTEMPTS } from '../../core/defaults';
import { kmsAttestor } from '../runtime/attestor';
import { createKmsClient, createSfnClient, createSnsClient } from '../runtime/aws';
import { createLogger, withLambdaContext } from '../runtime/logger';
import { createExpiryScan } from './expiry-scan';

const logger = createLogger();
const config = configFromEnvironment('ExpiryScan');
const expiryScan = createExpiryScan({
  kms: createKmsClient({ maxAttempts: SCAN_KMS_MAX_ATTEMPTS }),
  sfn: createSfnClient(),
  sns: createSnsClient(),
  attestor: kmsAttestor(createKmsClient(), config.attestationKeyArn),
  config,
  logger,
});

/** The expiry scan's Lambda entry point, run on its schedule. */
export const handler = withLambdaContext(logger, expiryScan);
