import { configFromEnvironment } from '../../core/config';
import { kmsAttestor } from '../runtime/attestor';
import { createKmsClient, createSecretsClient, createSfnClient, STANDARD_ATTEMPTS } from '../runtime/aws';
import { createEventsClient, eventBridgePublisher } from '../runtime/events';
import { createLogger, withLambdaContext } from '../runtime/logger';
import { createApprovalPage, pageRequestSchema } from './approval-page';

const logger = createLogger();
const config = configFromEnvironment('ApprovalPage');
const approvalPage = createApprovalPage({
  sfn: createSfnClient(),
  secrets: createSecretsClient(),
  attestor: kmsAttestor(createKmsClient(), config.attestationKeyArn),
  events: eventBridgePublisher(createEventsClient({ maxAttempts: STANDARD_ATTEMPTS }), config.eventBusName),
  config,
  logger,
});

/** The approval page's Lambda entry point, behind its Function URL (or, in identity mode, the HTTP API). */
export const handler = withLambdaContext(logger, (event) => approvalPage(pageRequestSchema.parse(event)));

export type { PageRequest, PageResponse } from './approval-page';
