import { configFromEnvironment } from '../../core/config';
import { kmsAttestor } from '../runtime/attestor';
import { createKmsClient } from '../runtime/aws';
import { createLogger, withLambdaContext } from '../runtime/logger';
import { createValidateOrigin } from './validate-origin';

const logger = createLogger();
const kms = createKmsClient();
const config = configFromEnvironment('ValidateOrigin');
const validateOrigin = createValidateOrigin({
  kms,
  attestor: kmsAttestor(kms, config.attestationKeyArn),
  config,
  logger,
});

/** ValidateOrigin's Lambda entry point. */
export const handler = withLambdaContext(logger, validateOrigin);
