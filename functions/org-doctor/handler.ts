import { configFromEnvironment } from '../../core/config';
import { STANDARD_ATTEMPTS, createOrganizationsClient } from '../runtime/aws';
import { createKeyAccess } from '../runtime/key-access';
import { createLogger, withLambdaContext } from '../runtime/logger';
import { createOrgDoctor } from './org-doctor';

const logger = createLogger();
const config = configFromEnvironment('OrgDoctor');
// A person waits on the answer and no state machine retries for them: the SDK's standard retries.
const orgDoctor = createOrgDoctor({
  organizations: createOrganizationsClient({ maxAttempts: STANDARD_ATTEMPTS }),
  keyAccess: (role) => createKeyAccess({ scope: config.scope, role, kmsMaxAttempts: STANDARD_ATTEMPTS }),
  config,
  logger,
});

/** The fleet doctor's Lambda entry point: `keymat org doctor` invokes it. */
export const handler = withLambdaContext(logger, orgDoctor);
