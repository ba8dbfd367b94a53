import {
  DescribeKeyCommand,
  KMSClient,
  paginateListKeyRotations,
  type KMSClientConfig,
  type RotationsListEntry,
} from '@aws-sdk/client-kms';
import { SecretsManagerClient, type SecretsManagerClientConfig } from '@aws-sdk/client-secrets-manager';
import { SNSClient, type SNSClientConfig } from '@aws-sdk/client-sns';
import { KeymatError, NETWORK_ERROR, errorName, hasErrorName } from '../../core/errors';
import type { KeySnapshot } from '../../core/plan';

/**
 * A KMS client for the tasks. The SDK's own retries are off: the state machine retries transient errors with
 * backoff, jitter and a bound, where each attempt is visible in the execution history.
 *
 * @param config - Where and as whom to call (the local stack passes its endpoint, Region and credentials).
 *   @default the SDK's resolution from the Lambda runtime
 */
export const createKmsClient = (config: KMSClientConfig = {}): KMSClient =>
  withNamedNetworkErrors(new KMSClient({ ...config, maxAttempts: 1 }));

/**
 * An SNS client for the tasks' messages (approval requests, announcements, outcomes).
 *
 * @param config - Where and as whom to call. @default the SDK's resolution from the Lambda runtime
 */
export const createSnsClient = (config: SNSClientConfig = {}): SNSClient =>
  withNamedNetworkErrors(new SNSClient(config));

/**
 * A Secrets Manager client, for the approval-link secret.
 *
 * @param config - Where and as whom to call. @default the SDK's resolution from the Lambda runtime
 */
export const createSecretsClient = (config: SecretsManagerClientConfig = {}): SecretsManagerClient =>
  withNamedNetworkErrors(new SecretsManagerClient(config));

const NETWORK_CODES = new Set([
  'ECONNRESET',
  'EPIPE',
  'ETIMEDOUT',
  'ECONNREFUSED',
  'ECONNABORTED',
  'EAI_AGAIN',
  'ENOTFOUND',
]);

/**
 * Gives network failures a name the state machine retries (`NetworkError`): the SDK reports them as a plain Error,
 * which would otherwise end a change as if it were a bug.
 */
export function withNamedNetworkErrors<T extends { middlewareStack: unknown }>(client: T): T {
  (client as unknown as KMSClient).middlewareStack.add(
    (next) => async (args) => {
      try {
        return await next(args);
      } catch (err) {
        const e = err as Error & { code?: string; $metadata?: { httpStatusCode?: number } };
        const network = hasErrorName(err, 'TimeoutError') || (e.code !== undefined && NETWORK_CODES.has(e.code));
        if (network && e.$metadata?.httpStatusCode === undefined) {
          const what = e.code ?? errorName(err);
          throw new KeymatError(NETWORK_ERROR, `the request did not complete: ${what}: ${e.message}`, {
            cause: err,
          });
        }
        throw err;
      }
    },
    { step: 'initialize', name: 'keymatNamedNetworkErrors' },
  );
  return client;
}

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
