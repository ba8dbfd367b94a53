import * as z from './schema';
import { KeymatError, invalidInput, shown } from './errors';
import type { Scope } from './config';
import { KMS_MAX_VALID_TO_DAYS, MAX_WAIT_SECONDS } from './defaults';
import { ARN, CHANGE_ID, KEY_ID, KEY_MATERIAL_ID, isAlias } from './naming';
import type { KeyPlace, Members } from './organisation';
import { hasUnsafeCharacters } from './text';
import { recoveryProofModeSchema, type ChangeInput } from './types';

const text = (max: number) =>
  z.string().check(
    z.minLength(1, 'must not be empty'),
    z.maxLength(max, `must be at most ${max} characters`),
    z.refine((s) => s.trim().length > 0, 'must not be blank'),
    z.refine((s) => !hasUnsafeCharacters(s), 'must not contain control or invisible formatting characters'),
  );

const VALID_TO_FORMAT = 'must be an ISO 8601 date and time to the second with its offset, e.g. 2027-06-30T00:00:00Z';

/** A restore's ValidTo as written: an instant to the second, with its offset, so that no two readings differ. */
const validToSchema = () => z.iso.datetime({ offset: true, precision: 0, error: VALID_TO_FORMAT });

const inputSchema = z.lazy(() =>
  z.strictObject({
    keyId: z.string().check(z.minLength(1, 'must not be empty'), z.maxLength(2048, 'must be at most 2048 characters')),
    keyMaterialId: z.optional(
      z
        .string()
        .check(z.regex(KEY_MATERIAL_ID, 'must be exactly 64 lower-case hexadecimal characters (a KeyMaterialId)')),
    ),
    changeId: z
      .string()
      .check(
        z.regex(
          CHANGE_ID,
          'must be 1-64 characters of letters, digits, ".", "_" or "-", starting with a letter or digit',
        ),
      ),
    reason: text(1000),
    requestedBy: text(256),
    waitSeconds: z.optional(
      z
        .number()
        .check(
          z.int('must be a whole number'),
          z.gte(0, 'must be at least 0'),
          z.lte(MAX_WAIT_SECONDS, `must be at most ${MAX_WAIT_SECONDS}`),
        ),
    ),
    dryRun: z.optional(z.boolean()),
    /** The change imports a deleted material back instead of deleting one (docs/recovery.md). */
    restore: z.optional(z.boolean()),
    /** The recovery proof this change asks for: only stricter than the deployment's (ValidateOrigin checks it). */
    recoveryProof: z.optional(recoveryProofModeSchema),
    /** When a restored material expires again; only a restore takes it (`checkValidTo` checks its bounds). */
    validTo: z.optional(validToSchema()),
    /** The start's attestation (gateway, scan): ValidateOrigin verifies it; it is not part of the parsed change. */
    attestation: z.optional(z.strictObject({ at: z.string(), channel: z.string(), mac: z.string() })),
  }),
);

/**
 * Parses the execution input, refusing it with `InvalidInput` (the field and the value named) before anything is
 * read or changed. Aliases and keys of another account or Region get their own errors (see `checkKeyId`).
 *
 * @param members - The deployment's member accounts and Regions, when it has them.
 * @param now - What a restore's `validTo` is checked against.
 */
export function parseChangeInput(
  raw: unknown,
  scope: Scope,
  defaultWaitSeconds: number,
  members: Members | undefined,
  now: Date,
): ChangeInput {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    throw invalidInput('input', raw, 'must be a JSON object');
  }
  const parsed = inputSchema.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    if (issue.code === 'unrecognized_keys') {
      throw invalidInput(
        issue.keys[0] ?? 'input',
        (raw as Record<string, unknown>)[issue.keys[0] ?? ''],
        'is not a field keymat knows',
      );
    }
    const field = issue.path.join('.') || 'input';
    const value = issue.path.reduce<unknown>((v, k) => (v as Record<PropertyKey, unknown> | undefined)?.[k], raw);
    const problem = issue.code === 'invalid_type' ? `must be a ${issue.expected}` : issue.message;
    throw invalidInput(field, value, value === undefined && issue.code === 'invalid_type' ? 'is required' : problem);
  }
  const input = parsed.data;
  if (input.restore === true && input.recoveryProof !== undefined) {
    throw invalidInput('recoveryProof', input.recoveryProof, 'does not apply to a restore, which always takes a copy');
  }
  if (input.validTo !== undefined && input.restore !== true) {
    throw invalidInput('validTo', input.validTo, 'applies only to a restore: a deletion imports nothing');
  }
  const validTo = input.validTo === undefined ? undefined : checkValidTo(input.validTo, now);
  checkKeyId(input.keyId, scope, members);
  return {
    keyId: input.keyId,
    ...(input.keyMaterialId !== undefined && { keyMaterialId: input.keyMaterialId }),
    changeId: input.changeId,
    reason: input.reason,
    requestedBy: input.requestedBy,
    waitSeconds: input.waitSeconds ?? defaultWaitSeconds,
    dryRun: input.dryRun ?? false,
    restore: input.restore ?? false,
    ...(input.recoveryProof !== undefined && { recoveryProof: input.recoveryProof }),
    ...(validTo !== undefined && { validTo }),
  };
}

/**
 * Checks a restore's ValidTo against KMS's bounds for ImportKeyMaterial (after `now`, at most
 * `KMS_MAX_VALID_TO_DAYS` later) and returns it in UTC (`2027-06-30T00:00:00Z`), the one form the plan, its digest
 * and the approval request carry. Refuses `InvalidInput` naming `validTo` and the value.
 */
export function checkValidTo(value: string, now: Date): string {
  if (!validToSchema().safeParse(value).success) {
    throw invalidInput('validTo', value, VALID_TO_FORMAT);
  }
  const at = Date.parse(value);
  if (at <= now.getTime()) {
    throw invalidInput('validTo', value, `must be in the future (it is ${isoSeconds(now)} now)`);
  }
  const latest = now.getTime() + KMS_MAX_VALID_TO_DAYS * 86_400_000;
  if (at > latest) {
    throw invalidInput(
      'validTo',
      value,
      `must be at most ${KMS_MAX_VALID_TO_DAYS} days ahead, as KMS allows (no later than ${isoSeconds(new Date(latest))})`,
    );
  }
  return isoSeconds(new Date(at));
}

/** An instant in UTC to the second: `2027-06-30T00:00:00Z`. */
const isoSeconds = (at: Date): string => `${at.toISOString().slice(0, 19)}Z`;

/**
 * Checks a key id or key ARN against where keymat may act, and says where the key lives: a bare key id, or an ARN of
 * the hub's own account and Region, always; without members nothing else (`KeyNotInThisAccountOrRegion`); with
 * members, a key ARN of another account or Region only in the hub's Region or a member Region
 * (`KeyOutsideOrganisation`; whether the account is a member is for ValidateOrigin to ask Organizations). Aliases are
 * refused: DeleteImportedKeyMaterial takes none.
 */
export function checkKeyId(keyId: string, scope: Scope, members?: Members): KeyPlace {
  if (isAlias(keyId)) {
    throw new KeymatError('AliasNotAllowed', `keyId must name a key, not an alias; got ${shown(keyId)}`);
  }
  if (!keyId.startsWith('arn:')) {
    if (!KEY_ID.test(keyId)) {
      throw invalidInput('keyId', keyId, 'must be a key id (UUID or mrk-…) or a key ARN');
    }
    return { account: scope.account, region: scope.region };
  }
  const m = ARN.exec(keyId);
  const [, partition = '', service, region = '', account = '', resource] = m ?? [];
  if (!m || service !== 'kms') throw invalidInput('keyId', keyId, 'must be a KMS key ARN');
  if (resource?.startsWith('alias/')) {
    throw new KeymatError('AliasNotAllowed', `keyId must name a key, not an alias; got ${shown(keyId)}`);
  }
  if (!resource?.startsWith('key/') || !KEY_ID.test(resource.slice(4))) {
    throw invalidInput('keyId', keyId, 'must be a KMS key ARN ending in key/<key id>');
  }
  const place = { partition, account, region };
  if (account === scope.account && region === scope.region) return place;
  if (members === undefined) {
    throw new KeymatError(
      'KeyNotInThisAccountOrRegion',
      `keyId ${keyId} is in account ${account} and Region ${region}; this workflow deletes only in account ${scope.account}, Region ${scope.region}`,
    );
  }
  if (region !== scope.region && !members.regions.includes(region)) {
    throw new KeymatError(
      'KeyOutsideOrganisation',
      `keyId ${keyId} is in Region ${region}; keymat acts only in ${[...new Set([scope.region, ...members.regions])].join(', ')}`,
    );
  }
  return place;
}
