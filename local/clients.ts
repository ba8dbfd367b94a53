import { KMSClient } from '@aws-sdk/client-kms';
import { DEFAULT_REGION } from './kms/model';

/** Credentials for the local stack: it reads the Region from the signature and checks nothing else. */
export const LOCAL_CREDENTIALS = { accessKeyId: 'AKIAKEYMATLOCAL', secretAccessKey: 'keymat-local-secret' };

/** The SDK client configuration for calls to a local stack (any service it emulates). */
export interface LocalClientConfig {
  endpoint: string;
  region: string;
  credentials: typeof LOCAL_CREDENTIALS;
}

/**
 * Where and as whom an SDK client calls the local stack at `endpoint`.
 *
 * @param region - The Region the stack's resources are in. @default the local stack's Region
 */
export const localClientConfig = (endpoint: string, region: string = DEFAULT_REGION): LocalClientConfig => ({
  endpoint,
  region,
  credentials: LOCAL_CREDENTIALS,
});

export const localKmsClient = (endpoint: string, region: string = DEFAULT_REGION): KMSClient =>
  new KMSClient(localClientConfig(endpoint, region));

/** The local stack's resources, named as the deployed stack names them. */
export const localResources = (region: string, account: string) => ({
  approvalTopicArn: `arn:aws:sns:${region}:${account}:keymat-approvals`,
  outcomeTopicArn: `arn:aws:sns:${region}:${account}:keymat-outcomes`,
  linkSecretArn: `arn:aws:secretsmanager:${region}:${account}:secret:keymat-approval-links`,
});
