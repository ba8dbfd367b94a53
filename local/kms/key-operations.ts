import { randomBytes, randomUUID } from 'node:crypto';
import { generateMaterial, materialId } from './crypto';
import { KmsError, lengthConstraint, validation, valueConstraint } from './errors';
import {
  HMAC_KEY_SPECS,
  accountOf,
  aliasAccount,
  isHmacKeySpec,
  keyArn,
  type AliasRecord,
  type KeyRecord,
} from './model';
import { checkPolicy, defaultKeyPolicy, policyName } from './key-policy';
import { aliasArn, type Keys } from './keys';
import {
  checkAliasName,
  enumMember,
  mergeTags,
  optionalString,
  pageMembers,
  paginate,
  parseTags,
  seconds,
  type CallContext,
  type CallRecord,
  type Json,
  type OperationTable,
} from './wire';

const DAY_MS = 24 * 3600 * 1000;

/**
 * The operations on keys themselves: creating and describing keys, aliases, tags, enabling and disabling, scheduled
 * deletion and last usage.
 */
export function keyOperations(keys: Keys): OperationTable {
  const createKey = (body: Json, ctx: CallContext, record: CallRecord): Json => {
    const origin = optionalString(body, 'Origin') ?? 'AWS_KMS';
    if (origin !== 'AWS_KMS' && origin !== 'EXTERNAL') {
      throw new KmsError('UnsupportedOperationException', `Origin ${origin} is not supported by the local KMS`);
    }
    const keySpec =
      optionalString(body, 'KeySpec') ?? optionalString(body, 'CustomerMasterKeySpec') ?? 'SYMMETRIC_DEFAULT';
    const hmac = isHmacKeySpec(keySpec);
    if (!hmac && keySpec !== 'SYMMETRIC_DEFAULT') {
      throw new KmsError(
        'UnsupportedOperationException',
        `KeySpec ${keySpec} is not supported by the local KMS: use SYMMETRIC_DEFAULT or HMAC_224, HMAC_256, HMAC_384, HMAC_512`,
      );
    }
    const usage = enumMember(
      body,
      'KeyUsage',
      ['ENCRYPT_DECRYPT', 'GENERATE_VERIFY_MAC'],
      hmac ? 'GENERATE_VERIFY_MAC' : 'ENCRYPT_DECRYPT',
    );
    if (usage !== (hmac ? 'GENERATE_VERIFY_MAC' : 'ENCRYPT_DECRYPT')) {
      throw new KmsError(
        'ValidationException',
        `KeyUsage ${usage} is not valid for KeySpec ${keySpec}: ${hmac ? 'HMAC keys have KeyUsage GENERATE_VERIFY_MAC' : 'SYMMETRIC_DEFAULT keys have KeyUsage ENCRYPT_DECRYPT'}`,
      );
    }
    if (hmac && origin !== 'AWS_KMS') {
      throw new KmsError(
        'UnsupportedOperationException',
        `Origin ${origin} is not supported for ${keySpec} keys by the local KMS: HMAC keys are created with Origin AWS_KMS`,
      );
    }
    const description = optionalString(body, 'Description') ?? '';
    if (description.length > 8192) throw validation('description', '…', lengthConstraint(description.length, 0, 8192));
    const multiRegion = body.MultiRegion === true;
    const keyId = multiRegion ? `mrk-${randomBytes(16).toString('hex')}` : randomUUID();
    const generated = generateMaterial(hmac ? HMAC_KEY_SPECS[keySpec].bytes : undefined);
    const key: KeyRecord = {
      keyId,
      arn: keyArn(ctx.region, ctx.account, keyId),
      region: ctx.region,
      description,
      origin,
      creationDate: ctx.now,
      enabled: true,
      multiRegion,
      materials:
        origin === 'AWS_KMS'
          ? [
              {
                keyMaterialId: materialId(keyId, generated),
                materialState: 'CURRENT',
                importState: 'IMPORTED',
                material: generated.toString('base64'),
              },
            ]
          : [],
      tags: mergeTags([], parseTags(body.Tags)),
      ...(hmac && { keySpec }),
      ...(body.Policy !== undefined && { policy: checkPolicy(body, ctx.account, ctx) }),
    };
    keys.state.keys[key.arn] = key;
    record.keyArn = key.arn;
    return { KeyMetadata: keys.metadata(key) };
  };

  const listKeys = (body: Json, ctx: CallContext): Json => {
    const page = paginate(
      Object.values(keys.state.keys).filter((k) => k.region === ctx.region && accountOf(k) === ctx.account),
      body,
    );
    return { Keys: page.items.map((k) => ({ KeyId: k.keyId, KeyArn: k.arn })), ...pageMembers(page.next) };
  };

  const createAlias = (body: Json, ctx: CallContext, record: CallRecord): Json => {
    const aliasName = checkAliasName(body.AliasName);
    if (aliasName.startsWith('alias/aws/')) {
      throw new KmsError('NotFoundException', `Alias names that begin with alias/aws/ are reserved.`);
    }
    const key = keys.resolve(body.TargetKeyId, ctx, record, false);
    const mine = (a: AliasRecord): boolean => a.region === ctx.region && aliasAccount(a) === ctx.account;
    if (keys.state.aliases.some((a) => mine(a) && a.aliasName === aliasName)) {
      throw new KmsError(
        'AlreadyExistsException',
        `An alias with the name ${aliasArn(ctx.region, ctx.account, aliasName)} already exists`,
      );
    }
    keys.state.aliases.push({
      aliasName,
      account: ctx.account,
      region: ctx.region,
      targetKeyId: key.keyId,
      creationDate: ctx.now,
    });
    return {};
  };

  const listAliases = (body: Json, ctx: CallContext, record: CallRecord): Json => {
    const target = body.KeyId === undefined ? undefined : keys.resolve(body.KeyId, ctx, record, false);
    const page = paginate(
      keys.state.aliases.filter(
        (a) =>
          a.region === ctx.region && aliasAccount(a) === ctx.account && (!target || a.targetKeyId === target.keyId),
      ),
      body,
    );
    return {
      Aliases: page.items.map((a) => ({
        AliasName: a.aliasName,
        AliasArn: aliasArn(a.region, aliasAccount(a), a.aliasName),
        TargetKeyId: a.targetKeyId,
        CreationDate: seconds(a.creationDate),
      })),
      ...pageMembers(page.next),
    };
  };

  /**
   * A multi-Region primary with replicas goes PendingReplicaDeletion: its waiting period starts only when its last
   * replica is deleted, so there is no DeletionDate yet (the response and DescribeKey leave it out).
   */
  const scheduleKeyDeletion = (body: Json, ctx: CallContext, record: CallRecord): Json => {
    const key = keys.change(body, ctx, record);
    const days = body.PendingWindowInDays ?? 30;
    if (typeof days !== 'number' || !Number.isInteger(days) || days < 7 || days > 30) {
      throw validation('pendingWindowInDays', days, valueConstraint(typeof days === 'number' ? days : 0, 7, 30));
    }
    keys.requireState(key, ['Enabled', 'Disabled', 'PendingImport']);
    key.pendingWindowInDays = days;
    const waitsForReplicas = key.multiRegion && !key.primaryArn && keys.replicasOf(key).length > 0;
    if (!waitsForReplicas) key.deletionDate = ctx.now + days * DAY_MS;
    return {
      KeyId: key.arn,
      ...(key.deletionDate !== undefined && { DeletionDate: seconds(key.deletionDate) }),
      KeyState: keys.stateOf(key),
      PendingWindowInDays: days,
    };
  };

  const cancelKeyDeletion = (body: Json, ctx: CallContext, record: CallRecord): Json => {
    const key = keys.change(body, ctx, record);
    keys.requireState(key, ['PendingDeletion', 'PendingReplicaDeletion']);
    delete key.deletionDate;
    delete key.pendingWindowInDays;
    // KMS leaves a key whose deletion was cancelled disabled.
    key.enabled = false;
    return { KeyId: key.arn };
  };

  const setEnabled =
    (enabled: boolean) =>
    (body: Json, ctx: CallContext, record: CallRecord): Json => {
      const key = keys.change(body, ctx, record);
      keys.requireState(key, ['Enabled', 'Disabled']);
      key.enabled = enabled;
      return {};
    };

  const getKeyLastUsage = (body: Json, ctx: CallContext, record: CallRecord): Json => {
    const key = keys.read('GetKeyLastUsage', body, ctx, record, false);
    return {
      KeyId: key.arn,
      KeyCreationDate: seconds(key.creationDate),
      TrackingStartDate: seconds(key.creationDate),
      KeyLastUsage: key.lastUsage
        ? {
            Operation: key.lastUsage.operation,
            Timestamp: seconds(key.lastUsage.timestamp),
            KmsRequestId: key.lastUsage.requestId,
            CloudTrailEventId: key.lastUsage.requestId,
          }
        : {},
    };
  };

  const tagResource = (body: Json, ctx: CallContext, record: CallRecord): Json => {
    const key = keys.change(body, ctx, record);
    if (body.Tags === undefined || body.Tags === null) throw validation('tags', undefined, 'Member must not be null');
    key.tags = mergeTags(key.tags, parseTags(body.Tags));
    return {};
  };

  return {
    CreateKey: createKey,
    DescribeKey: (body, ctx, record) => ({
      KeyMetadata: keys.metadata(keys.read('DescribeKey', body, ctx, record, true)),
    }),
    ListKeys: listKeys,
    CreateAlias: createAlias,
    ListAliases: listAliases,
    ScheduleKeyDeletion: scheduleKeyDeletion,
    CancelKeyDeletion: cancelKeyDeletion,
    EnableKey: setEnabled(true),
    DisableKey: setEnabled(false),
    GetKeyLastUsage: getKeyLastUsage,
    TagResource: tagResource,
    PutKeyPolicy: (body, ctx, record) => {
      policyName(body);
      const key = keys.change(body, ctx, record);
      key.policy = checkPolicy(body, accountOf(key), ctx);
      return {};
    },
    GetKeyPolicy: (body, ctx, record) => {
      const key = keys.read('GetKeyPolicy', body, ctx, record, false);
      return { Policy: key.policy ?? defaultKeyPolicy(accountOf(key)), PolicyName: policyName(body) };
    },
    ListResourceTags: (body, ctx, record) => ({
      Tags: keys.read('ListResourceTags', body, ctx, record, false).tags,
      Truncated: false,
    }),
  };
}
