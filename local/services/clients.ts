import { DEFAULT_REGION } from '../kms/model';

/** Static credentials for a local stack: it takes the access key id as the caller's name and checks no secret. */
export interface LocalCredentials {
  accessKeyId: string;
  secretAccessKey: string;
}

/**
 * The public credentials for the local stack, for anyone's calls (`keymat local kms`, tests, the AWS CLI). They are
 * not keymat's internal credentials: the attestation key and the approval-link secret refuse them.
 */
export const LOCAL_CREDENTIALS: LocalCredentials = {
  accessKeyId: 'AKIAKEYMATLOCAL',
  secretAccessKey: 'keymat-local-secret',
};

/** The SDK client configuration for calls to a local stack (any service it emulates). */
export interface LocalClientConfig {
  endpoint: string;
  region: string;
  credentials: LocalCredentials;
}

/**
 * Where and as whom an SDK client calls the local stack at `endpoint`.
 *
 * @param region - The Region the stack's resources are in. @default the local stack's Region
 * @param credentials - Who calls. @default {@link LOCAL_CREDENTIALS}
 */
export const localClientConfig = (
  endpoint: string,
  region: string = DEFAULT_REGION,
  credentials: LocalCredentials = LOCAL_CREDENTIALS,
): LocalClientConfig => ({ endpoint, region, credentials: { ...credentials } });

/**
 * The local stack's resources, named as the deployed stack names them; the attestation key is made at the state
 * folder's first start, so its ARN is passed in.
 */
export const localResources = (region: string, account: string, attestationKeyArn: string) => ({
  approvalTopicArn: `arn:aws:sns:${region}:${account}:keymat-approvals`,
  outcomeTopicArn: `arn:aws:sns:${region}:${account}:keymat-outcomes`,
  linkSecretArn: `arn:aws:secretsmanager:${region}:${account}:secret:keymat-approval-links`,
  attestationKeyArn,
});
