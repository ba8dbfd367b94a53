import { KmsError, invalidState, lengthConstraint, validation } from './errors';
import type { FaultInjector } from './faults';
import { keyPolicyAllows } from './key-policy';
import {
  HMAC_KEY_SPECS,
  accountOf,
  aliasAccount,
  currentMaterial,
  deriveKeyState,
  isPermanent,
  keyArn,
  keySpecOf,
  type HmacKeySpec,
  type KeyRecord,
  type KeyState,
  type KmsState,
} from './model';
import { seconds, type CallContext, type CallRecord, type Json } from './wire';

/**
 * Key resolution: how a request's `KeyId` (key id, key ARN, alias name, alias ARN) finds a key of the request's
 * Region, the key's state as KMS reports it (pinned by a fault file, or derived), and the checks operations make on
 * that state. Also answers reads from a pre-change snapshot while a stale-read fault lasts.
 */

const KEY_ID_PATTERN = /^([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}|mrk-[0-9a-f]{32})$/;
const KEY_ARN_PATTERN = /^arn:aws[a-z-]*:kms:([a-z0-9-]+):(\d{12}):(key|alias)\/(.+)$/;
/** Reads that a stale-read fault answers from the key as it was before its last change. */
const STALE_READ_OPERATIONS = new Set(['DescribeKey', 'ListKeyRotations', 'GetKeyLastUsage', 'ListResourceTags']);

export const aliasArn = (region: string, account: string, aliasName: string): string =>
  `arn:aws:kms:${region}:${account}:${aliasName}`;

/**
 * KMS's AccessDeniedException for a caller no policy lets act on `resource`: `because` says which kind of policy
 * would have had to allow it.
 */
export const accessDenied = (
  ctx: CallContext,
  resource: string,
  because: 'identity-based' | 'resource-based',
): KmsError =>
  new KmsError(
    'AccessDeniedException',
    `User: ${ctx.callerArn} is not authorized to perform: kms:${ctx.operation} on resource: ${resource} because no ${because} policy allows the kms:${ctx.operation} action`,
  );

/** The keys of a {@link KmsState}, found and checked as KMS does. */
export class Keys {
  private readonly stale = new Map<string, { snapshot: KeyRecord; remaining: number }>();

  constructor(
    readonly state: KmsState,
    /** Replaced when a running stack gets a new fault plan. */
    public faults: FaultInjector,
  ) {}

  /** The key state KMS reports: a state pinned by the fault file, else the one derived from the record. */
  stateOf(key: KeyRecord): KeyState {
    return this.faults.pinnedState(key.keyId, key.arn) ?? deriveKeyState(key);
  }

  /**
   * Resolves a request's `KeyId` (key id, key ARN, and where `allowAlias`, alias name or alias ARN) to a key of
   * the request's Region, with KMS's errors for each way it can be wrong. `record` receives the key's ARN. A key id or
   * alias name is looked up in the caller's account; an ARN of another account is refused AccessDeniedException, as
   * KMS refuses a caller no key policy of that account lets in (the local keys' policies trust their own account only).
   */
  resolve(keyId: unknown, ctx: CallContext, record: CallRecord, allowAlias: boolean): KeyRecord {
    if (keyId === undefined || keyId === null) throw validation('keyId', undefined, 'Member must not be null');
    if (typeof keyId !== 'string') throw new KmsError('SerializationException', 'KeyId must be a string');
    if (keyId.length < 1 || keyId.length > 2048) {
      throw validation('keyId', keyId, lengthConstraint(keyId.length, 1, 2048));
    }
    let region = ctx.region;
    let kind: 'key' | 'alias' = keyId.startsWith('alias/') ? 'alias' : 'key';
    let id = keyId;
    if (keyId.startsWith('arn:')) {
      const [, arnRegion = '', arnAccount = '', arnKind = '', resource = ''] = KEY_ARN_PATTERN.exec(keyId) ?? [];
      if (!arnKind) throw new KmsError('InvalidArnException', `Invalid arn ${keyId}`);
      if (arnRegion !== ctx.region) throw new KmsError('NotFoundException', `Invalid arn ${arnRegion}`);
      if (arnAccount !== ctx.account) throw accessDenied(ctx, keyId, 'resource-based');
      region = arnRegion;
      kind = arnKind === 'alias' ? 'alias' : 'key';
      id = kind === 'alias' ? `alias/${resource}` : resource;
    }
    if (kind === 'alias') {
      if (!allowAlias) throw new KmsError('NotFoundException', `Invalid keyId '${keyId}'`);
      const alias = this.state.aliases.find(
        (a) => a.region === region && aliasAccount(a) === ctx.account && a.aliasName === id,
      );
      if (!alias) throw new KmsError('NotFoundException', `Alias ${aliasArn(region, ctx.account, id)} is not found.`);
      id = alias.targetKeyId;
    } else if (!KEY_ID_PATTERN.test(id)) {
      throw new KmsError('NotFoundException', `Invalid keyId '${keyId}'`);
    }
    const arn = keyArn(region, ctx.account, id);
    record.keyArn = arn;
    const key = this.state.keys[arn];
    if (!key) throw new KmsError('NotFoundException', `Key '${arn}' does not exist`);
    if (!keyPolicyAllows(key, ctx)) throw accessDenied(ctx, arn, 'resource-based');
    return key;
  }

  /** Resolves the key of a read, answering from the pre-change snapshot while a stale-read fault lasts. */
  read(operation: string, body: Json, ctx: CallContext, record: CallRecord, allowAlias: boolean): KeyRecord {
    const key = this.resolve(body.KeyId, ctx, record, allowAlias);
    const stale = this.stale.get(key.arn);
    if (stale && STALE_READ_OPERATIONS.has(operation) && stale.remaining > 0) {
      stale.remaining -= 1;
      return stale.snapshot;
    }
    return key;
  }

  /** Resolves the key of a change (never through an alias), noting the change for stale reads. */
  change(body: Json, ctx: CallContext, record: CallRecord): KeyRecord {
    const key = this.resolve(body.KeyId, ctx, record, false);
    // A key whose policy names its callers (the local attestation key) is changed by them alone: locally everyone
    // else stands for a user the key policy does not name (in AWS, only the account's key administrators may).
    if (key.macCallers !== undefined && !key.macCallers.includes(ctx.caller)) {
      throw new KmsError(
        'AccessDeniedException',
        `User: ${ctx.callerArn} is not authorized to change ${key.arn}: its key policy leaves it to keymat's own roles`,
      );
    }
    this.noteChange(key);
    return key;
  }

  /** Keeps a snapshot of the key as it is before a change, when the fault plan asks for stale reads. */
  noteChange(key: KeyRecord): void {
    const calls = this.faults.staleReadCalls;
    if (calls > 0) this.stale.set(key.arn, { snapshot: structuredClone(key), remaining: calls });
  }

  requireState(key: KeyRecord, allowed: KeyState[]): KeyState {
    const state = this.stateOf(key);
    if (!allowed.includes(state)) throw invalidState(key.arn, state);
    return state;
  }

  requireExternal(key: KeyRecord): void {
    if (key.origin !== 'EXTERNAL') {
      throw new KmsError(
        'UnsupportedOperationException',
        `${key.arn} origin is ${key.origin} which is not valid for this operation.`,
      );
    }
  }

  /** A key that Encrypt and Decrypt may use: Enabled, with DisabledException for a disabled one. */
  requireUsable(key: KeyRecord): void {
    const state = this.stateOf(key);
    if (state === 'Disabled') throw new KmsError('DisabledException', `${key.arn} is disabled.`);
    if (state !== 'Enabled') throw invalidState(key.arn, state);
  }

  /** A key Encrypt and Decrypt may use: a symmetric encryption key, else InvalidKeyUsageException. */
  requireEncryptionKey(key: KeyRecord, operation: string): void {
    const spec = keySpecOf(key);
    if (spec !== 'SYMMETRIC_DEFAULT') {
      throw new KmsError(
        'InvalidKeyUsageException',
        `${key.arn} is a ${spec} key with KeyUsage GENERATE_VERIFY_MAC: ${operation} needs a symmetric encryption key (KeyUsage ENCRYPT_DECRYPT)`,
      );
    }
  }

  /**
   * A key GenerateMac and VerifyMac may use with `algorithm`: an HMAC key whose spec supports it, else
   * InvalidKeyUsageException. Returns the key's spec.
   */
  requireMacKey(key: KeyRecord, algorithm: string, operation: string): HmacKeySpec {
    const spec = keySpecOf(key);
    if (spec === 'SYMMETRIC_DEFAULT') {
      throw new KmsError(
        'InvalidKeyUsageException',
        `${key.arn} is a SYMMETRIC_DEFAULT key with KeyUsage ENCRYPT_DECRYPT: ${operation} needs an HMAC key (KeyUsage GENERATE_VERIFY_MAC)`,
      );
    }
    const supported = HMAC_KEY_SPECS[spec].algorithm;
    if (algorithm !== supported) {
      throw new KmsError(
        'InvalidKeyUsageException',
        `MacAlgorithm ${algorithm} is not valid for ${key.arn}: its KeySpec ${spec} supports ${supported} only`,
      );
    }
    return spec;
  }

  replicasOf(primary: KeyRecord): KeyRecord[] {
    return Object.values(this.state.keys).filter((k) => k.primaryArn === primary.arn);
  }

  /**
   * DescribeKey's KeyMetadata. Each optional member appears only where the API reference defines it: `DeletionDate`
   * while PendingDeletion, `PendingDeletionWindowInDays` while PendingReplicaDeletion, `ExpirationModel` and
   * `ValidTo` while imported material carries them (a deletion takes them away, as AWS does).
   */
  metadata(key: KeyRecord): Json {
    const state = this.stateOf(key);
    const permanent = key.materials.filter(isPermanent);
    const models = permanent.flatMap((m) => (m.expirationModel === undefined ? [] : [m.expirationModel]));
    const expiring = permanent.flatMap((m) => (m.validTo === undefined ? [] : [m.validTo]));
    const current = currentMaterial(key);
    const primary = key.primaryArn ? this.state.keys[key.primaryArn] : key;
    const spec = keySpecOf(key);
    return {
      AWSAccountId: accountOf(key),
      KeyId: key.keyId,
      Arn: key.arn,
      CreationDate: seconds(key.creationDate),
      Enabled: state === 'Enabled',
      Description: key.description,
      KeyUsage: spec === 'SYMMETRIC_DEFAULT' ? 'ENCRYPT_DECRYPT' : 'GENERATE_VERIFY_MAC',
      KeyState: state,
      ...(key.deletionDate !== undefined && { DeletionDate: seconds(key.deletionDate) }),
      ...(key.deletionDate === undefined &&
        key.pendingWindowInDays !== undefined && { PendingDeletionWindowInDays: key.pendingWindowInDays }),
      Origin: key.origin,
      KeyManager: 'CUSTOMER',
      CustomerMasterKeySpec: spec,
      KeySpec: spec,
      ...(spec === 'SYMMETRIC_DEFAULT'
        ? { EncryptionAlgorithms: ['SYMMETRIC_DEFAULT'] }
        : { MacAlgorithms: [HMAC_KEY_SPECS[spec].algorithm] }),
      ...(key.origin === 'EXTERNAL' &&
        models.length > 0 && {
          ExpirationModel: models.includes('KEY_MATERIAL_EXPIRES')
            ? 'KEY_MATERIAL_EXPIRES'
            : 'KEY_MATERIAL_DOES_NOT_EXPIRE',
        }),
      ...(expiring.length > 0 && { ValidTo: seconds(Math.min(...expiring)) }),
      MultiRegion: key.multiRegion,
      ...(key.multiRegion &&
        primary && {
          MultiRegionConfiguration: {
            MultiRegionKeyType: key.primaryArn ? 'REPLICA' : 'PRIMARY',
            PrimaryKey: { Arn: primary.arn, Region: primary.region },
            ReplicaKeys: this.replicasOf(primary).map((r) => ({ Arn: r.arn, Region: r.region })),
          },
        }),
      ...(current && { CurrentKeyMaterialId: current.keyMaterialId }),
    };
  }
}
