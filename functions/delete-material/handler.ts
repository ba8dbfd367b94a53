import { configFromEnvironment } from '../../core/config';
import { createKmsClient, createSnsClient } from '../runtime/aws';
import { createLogger, withLambdaContext } from '../runtime/logger';
import { createDeleteMaterial } from './delete-material';

const logger = createLogger();
const deleteMaterial = createDeleteMaterial({
  kms: createKmsClient(),
  sns: createSnsClient(),
  config: configFromEnvironment('DeleteMaterial'),
  logger,
});

/** DeleteMaterial's Lambda entry point. */
export const handler = withLambdaContext(logger, deleteMaterial);
