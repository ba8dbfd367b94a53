import { GetKeyLastUsageCommand, paginateListAliases, type GetKeyLastUsageResponse } from '@aws-sdk/client-kms';
import { createKmsClient, readKey } from '../runtime/aws';
import { scopeFromEnv } from '../runtime/env';
import { KeymatError, RETRYABLE_KMS_ERRORS } from '../../core/errors';
import { parseChangeInput } from '../../core/input';
import { logger, startInvocation } from '../runtime/logger';
import { buildPlan } from '../../core/plan';
import type { ChangeInput, Plan } from '../../core/types';

const kms = createKmsClient();
const scope = scopeFromEnv();
const defaultWaitSeconds = Number(process.env.DEFAULT_WAIT_SECONDS ?? '30');
const recentUseDays = Number(process.env.RECENT_USE_DAYS ?? '30');

export interface ValidateOriginEvent {
  executionId: string;
  input: unknown;
}

/** ValidateOrigin: parses the change, checks the key is a customer-managed EXTERNAL key, and builds the plan. */
export async function handler(event: ValidateOriginEvent): Promise<{ input: ChangeInput; plan: Plan }> {
  startInvocation({ executionId: String(event?.executionId) });
  const input = parseChangeInput(event?.input, scope, defaultWaitSeconds);
  logger.appendKeys({ changeId: input.changeId, keyId: input.keyId });

  const snapshot = await readKey(kms, input.keyId);
  const meta = snapshot.metadata;
  logger.appendKeys({ keyArn: meta.Arn });
  if (meta.Origin !== 'EXTERNAL') {
    throw new KeymatError(
      'OriginNotExternal',
      `key ${meta.Arn} has origin ${meta.Origin}; only keys with imported material (origin EXTERNAL) can have it deleted`,
    );
  }
  if (meta.KeyManager !== 'CUSTOMER') {
    throw new KeymatError(
      'KeyNotCustomerManaged',
      `key ${meta.Arn} is managed by ${meta.KeyManager}, not the customer`,
    );
  }
  const aliases: string[] = [];
  for await (const page of paginateListAliases({ client: kms }, { KeyId: meta.Arn })) {
    aliases.push(...(page.Aliases ?? []).map((a) => a.AliasName as string));
  }
  const plan = buildPlan(snapshot, aliases, await lastUsage(meta.Arn as string), input.keyMaterialId, {
    days: recentUseDays,
    now: new Date(),
  });
  logger.info('plan built', { plan });
  return { input, plan };
}

/** GetKeyLastUsage is advisory: when it cannot answer for a non-transient reason, the plan says "unknown". */
async function lastUsage(keyArn: string): Promise<GetKeyLastUsageResponse | undefined> {
  try {
    return await kms.send(new GetKeyLastUsageCommand({ KeyId: keyArn }));
  } catch (err) {
    if ((RETRYABLE_KMS_ERRORS as readonly string[]).includes((err as Error).name)) throw err;
    logger.warn('GetKeyLastUsage failed; last use reported as unknown', { error: (err as Error).name });
    return undefined;
  }
}
