import { configFromEnvironment } from '../../core/config';
import { MEMBER_READ_ROLE } from '../../core/organisation';
import { createKeyAccess } from '../runtime/key-access';
import { createLogger, withLambdaContext } from '../runtime/logger';
import { createVerifyPendingImport } from './verify-pending-import';

const logger = createLogger();
const config = configFromEnvironment('VerifyPendingImport');

/** VerifyPendingImport's Lambda entry point. */
export const handler = withLambdaContext(
  logger,
  createVerifyPendingImport({ keys: createKeyAccess({ scope: config.scope, role: MEMBER_READ_ROLE }), logger }),
);
