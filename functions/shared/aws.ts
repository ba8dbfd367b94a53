import { DescribeKeyCommand, KMSClient, paginateListKeyRotations, type RotationsListEntry } from '@aws-sdk/client-kms';
import { SNSClient } from '@aws-sdk/client-sns';
import type { KeySnapshot } from './plan';

/**
 * A KMS client for the tasks. The SDK's own retries are off: the state machine retries transient errors with
 * backoff, jitter and a bound, where each attempt is visible in the execution history.
 * The endpoint comes from the standard `AWS_ENDPOINT_URL_KMS` variable when set (the local stack).
 */
export const createKmsClient = (): KMSClient => new KMSClient({ maxAttempts: 1 });

export const createSnsClient = (): SNSClient => new SNSClient({});

/** DescribeKey and every material of the key (ListKeyRotations with ALL_KEY_MATERIAL, all pages). */
export async function readKey(kms: KMSClient, keyId: string): Promise<KeySnapshot> {
  const { KeyMetadata: metadata } = await kms.send(new DescribeKeyCommand({ KeyId: keyId }));
  if (!metadata?.Arn) throw new Error(`DescribeKey returned no metadata for ${keyId}`);
  const materials: RotationsListEntry[] = [];
  for await (const page of paginateListKeyRotations(
    { client: kms, pageSize: 1000 },
    { KeyId: metadata.Arn, IncludeKeyMaterial: 'ALL_KEY_MATERIAL' },
  )) {
    materials.push(...(page.Rotations ?? []));
  }
  return { metadata, materials };
}
