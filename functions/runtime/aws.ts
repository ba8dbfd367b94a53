import type { RotationsListEntry } from '@aws-sdk/client-kms';
import { allPages, type KmsCall, type SecretsCall, type SfnCall, type SnsCall } from '../../core/aws-api';
import type { KeySnapshot } from '../../core/plan';
import { awsClient, type AwsClientOptions } from './aws-client';

/**
 * A KMS client for the tasks. It makes one attempt per call: the state machine retries transient errors with
 * backoff, jitter and a bound, where each attempt is visible in the execution history.
 *
 * @param options - Where and as whom to call (the local stack passes its endpoint, Region and credentials).
 *   @default the function's Region and the Lambda runtime's credentials
 */
export const createKmsClient = (options: AwsClientOptions = {}): KmsCall =>
  awsClient('kms', { maxAttempts: 1, ...options });

/**
 * An SNS client for the tasks' messages (approval requests, announcements, outcomes), with the standard retries.
 *
 * @param options - Where and as whom to call. @default the function's Region and the Lambda runtime's credentials
 */
export const createSnsClient = (options: AwsClientOptions = {}): SnsCall => awsClient('sns', options);

/**
 * A Secrets Manager client, for the approval-link secret, with the standard retries.
 *
 * @param options - Where and as whom to call. @default the function's Region and the Lambda runtime's credentials
 */
export const createSecretsClient = (options: AwsClientOptions = {}): SecretsCall =>
  awsClient('secretsmanager', options);

/**
 * A Step Functions client for the change client (the gateway, the approval page, the scan), with the standard
 * retries: these answer people or run unattended, with no state machine to retry for them.
 *
 * @param options - Where and as whom to call. @default the function's Region and the Lambda runtime's credentials
 */
export const createSfnClient = (options: AwsClientOptions = {}): SfnCall => awsClient('states', options);

/** DescribeKey and every material of the key (ListKeyRotations with ALL_KEY_MATERIAL, all pages). */
export async function readKey(kms: KmsCall, keyId: string): Promise<KeySnapshot> {
  const { KeyMetadata: metadata } = await kms('DescribeKey', { KeyId: keyId });
  if (!metadata?.Arn) throw new Error(`DescribeKey returned no metadata for ${keyId}`);
  const keyArn = metadata.Arn;
  const materials: RotationsListEntry[] = [];
  const pages = allPages(
    (Marker) => kms('ListKeyRotations', { KeyId: keyArn, IncludeKeyMaterial: 'ALL_KEY_MATERIAL', Limit: 1000, Marker }),
    (page) => page.NextMarker,
  );
  for await (const page of pages) materials.push(...(page.Rotations ?? []));
  return { metadata, materials };
}
