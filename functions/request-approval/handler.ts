import { configFromEnvironment } from '../../core/config';
import { createSecretsClient, createSnsClient } from '../runtime/aws';
import { createLogger, withLambdaContext } from '../runtime/logger';
import { createRequestApproval } from './request-approval';

const logger = createLogger();
const requestApproval = createRequestApproval({
  sns: createSnsClient(),
  secrets: createSecretsClient(),
  config: configFromEnvironment('RequestApproval'),
  logger,
});

/** RequestApproval's Lambda entry point. */
export const handler = withLambdaContext(logger, requestApproval);
