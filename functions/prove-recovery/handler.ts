import { configFromEnvironment } from '../../core/config';
import { MEMBER_RECOVERY_ROLE } from '../../core/organisation';
import { kmsAttestor } from '../runtime/attestor';
import { createKmsClient, createSnsClient } from '../runtime/aws';
import { createKeyAccess } from '../runtime/key-access';
import { createLogger, withLambdaContext } from '../runtime/logger';
import { createProveRecovery } from './prove-recovery';

const logger = createLogger();
const config = configFromEnvironment('ProveRecovery');
const proveRecovery = createProveRecovery({
  keys: createKeyAccess({ scope: config.scope, role: MEMBER_RECOVERY_ROLE }),
  sns: createSnsClient(),
  attestor: kmsAttestor(createKmsClient(), config.attestationKeyArn),
  config,
  logger,
});

/** The proving function's Lambda entry point (the AwaitRecoveryProof and ProveRecovery states). */
export const handler = withLambdaContext(logger, proveRecovery);
