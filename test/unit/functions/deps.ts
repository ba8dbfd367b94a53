import { KMSClient } from '@aws-sdk/client-kms';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { SNSClient } from '@aws-sdk/client-sns';
import type { Scope } from '../../../core/config';
import { createLogger, type Logger } from '../../../functions/runtime/logger';

/**
 * What the task factories are given in unit tests: clients of the SDK classes that aws-sdk-client-mock stubs, the
 * configuration objects the stack would set, and a logger that writes nothing.
 */
export const SCOPE: Scope = { account: '111122223333', region: 'us-east-1' };
export const APPROVAL_TOPIC_ARN = 'arn:aws:sns:us-east-1:111122223333:approvals';
export const OUTCOME_TOPIC_ARN = 'arn:aws:sns:us-east-1:111122223333:outcomes';
export const LINK_SECRET_ARN = 'arn:aws:secretsmanager:us-east-1:111122223333:secret:links';
export const PAGE_URL = 'https://page.example/approval';
export const EXECUTION_ID = 'arn:aws:states:us-east-1:111122223333:execution:m:e';

export const kmsClient = (): KMSClient => new KMSClient({ region: SCOPE.region });
export const snsClient = (): SNSClient => new SNSClient({ region: SCOPE.region });
export const secretsClient = (): SecretsManagerClient => new SecretsManagerClient({ region: SCOPE.region });
export const silentLogger = (): Logger => createLogger({ logLevel: 'SILENT' });
