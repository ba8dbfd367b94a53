import { DescribeKeyCommand, KMSClient, paginateListKeyRotations, type RotationsListEntry } from '@aws-sdk/client-kms';
import { SNSClient } from '@aws-sdk/client-sns';
import { KeymatError, NETWORK_ERROR } from '../../core/errors';
import type { KeySnapshot } from '../../core/plan';

/**
 * A KMS client for the tasks. The SDK's own retries are off: the state machine retries transient errors with
 * backoff, jitter and a bound, where each attempt is visible in the execution history.
 * The endpoint comes from the standard `AWS_ENDPOINT_URL_KMS` variable when set (the local stack).
 */
export const createKmsClient = (): KMSClient => withNamedNetworkErrors(new KMSClient({ maxAttempts: 1 }));

export const createSnsClient = (): SNSClient => withNamedNetworkErrors(new SNSClient({}));

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
function withNamedNetworkErrors<T extends KMSClient | SNSClient>(client: T): T {
  (client as KMSClient).middlewareStack.add(
    (next) => async (args) => {
      try {
        return await next(args);
      } catch (err) {
        const e = err as Error & { code?: string; $metadata?: { httpStatusCode?: number } };
        const network = e.name === 'TimeoutError' || (e.code !== undefined && NETWORK_CODES.has(e.code));
        if (network && e.$metadata?.httpStatusCode === undefined) {
          throw new KeymatError(NETWORK_ERROR, `the request did not complete: ${e.code ?? e.name}: ${e.message}`, {
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
