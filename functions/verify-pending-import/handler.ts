import { createKmsClient } from '../runtime/aws';
import { createLogger, withLambdaContext } from '../runtime/logger';
import { createVerifyPendingImport } from './verify-pending-import';

const logger = createLogger();

/** VerifyPendingImport's Lambda entry point. */
export const handler = withLambdaContext(logger, createVerifyPendingImport({ kms: createKmsClient(), logger }));
