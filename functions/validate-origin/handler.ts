import { configFromEnvironment } from '../../core/config';
import { createKmsClient } from '../runtime/aws';
import { createLogger, withLambdaContext } from '../runtime/logger';
import { createValidateOrigin } from './validate-origin';

const logger = createLogger();
const validateOrigin = createValidateOrigin({
  kms: createKmsClient(),
  config: configFromEnvironment('ValidateOrigin'),
  logger,
});

/** ValidateOrigin's Lambda entry point. */
export const handler = withLambdaContext(logger, validateOrigin);
