import { SFNClient } from '@aws-sdk/client-sfn';
import { configFromEnvironment } from '../../core/config';
import { createSecretsClient } from '../runtime/aws';
import { createLogger, withLambdaContext } from '../runtime/logger';
import { createApprovalPage, pageRequestSchema } from './approval-page';

const logger = createLogger();
const approvalPage = createApprovalPage({
  sfn: new SFNClient({}),
  secrets: createSecretsClient(),
  config: configFromEnvironment('ApprovalPage'),
  logger,
});

/** The approval page's Lambda entry point, behind its Function URL. */
export const handler = withLambdaContext(logger, (event) => approvalPage(pageRequestSchema.parse(event)));

export type { PageRequest, PageResponse } from './approval-page';
