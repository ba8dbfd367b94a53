import {
  createCipheriv,
  createDecipheriv,
  createHash,
  constants as cryptoConstants,
  generateKeyPair,
  privateDecrypt,
  randomBytes,
  randomUUID,
} from 'node:crypto';
import { promisify } from 'node:util';
import { KmsError, validation } from './errors';
import type { FaultInjector } from './faults';
import {
  LOCAL_ACCOUNT_ID,
  currentMaterial,
  deriveKeyState,
  isPendingRotation,
  isPermanent,
  keyArn,
  type ExpirationModel,
  type KeyRecord,
  type KeyState,
  type KmsState,
  type MaterialRecord,
} from './model';

const generateKeyPairAsync = promisify(generateKeyPair);

type Json = Record<string, unknown>;

/** Operations that change state: the server persists after each of them. */
export const MUTATING_OPERATIONS = new Set([
  'CreateKey',
  'CreateAlias',
  'GetParametersForImport',
  'ImportKeyMaterial',
  'DeleteImportedKeyMaterial',
  'RotateKeyOnDemand',
  'ScheduleKeyDeletion',
  'CancelKeyDeletion',
  'EnableKey',
  'DisableKey',
  'TagResource',
  'ReplicateKey',
  'Encrypt',
  'Decrypt',
]);

const KEY_ID_PATTERN = /^([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}|mrk-[0-9a-f]{32})$/;
const KEY_MATERIAL_ID_PATTERN = /^[a-f0-9]{64}$/;
const ALIAS_NAME_PATTERN = /^alias\/[a-zA-Z0-9/_-]{1,250}$/;
const REGION_PATTERN = /^[a-z]{2}(-[a-z]+)+-\d{1,2}$/;
const KEY_ARN_PATTERN = /^arn:aws[a-z-]*:kms:([a-z0-9-]+):(\d{12}):(key|alias)\/(.+)$/;
const MATERIAL_BYTES = 32;
const MAX_VALID_TO_MS = 365 * 24 * 3600 * 1000;
const IMPORT_TOKEN_TTL_MS = 24 * 3600 * 1000;
const WRAPPING_KEY_BITS = { RSA_2048: 2048, RSA_3072: 3072, RSA_4096: 4096 } as const;
const OAEP_HASH = { RSAES_OAEP_SHA_1: 'sha1', RSAES_OAEP_SHA_256: 'sha256' } as const;
const CIPHERTEXT_MAGIC = Buffer.from('KMT1');
/** Reads that a stale-read fault answers from the key as it was before its last change. */
const STALE_READ_OPERATIONS = new Set(['DescribeKey', 'ListKeyRotations', 'GetKeyLastUsage', 'ListResourceTags']);

const seconds = (ms: number): number => ms / 1000;

/** The request-independent context of one call. */
export interface CallContext {
  region: string;
  requestId: string;
  now: number;
}

/** The result of resolving the `KeyId` of a request, kept for the request log. */
export interface CallRecord {
  keyArn?: string;
  keyMaterialId?: string;
}

/**
 * KMS's behaviour for imported key material, over a {@link KmsState}. One method per operation, each taking the
 * request's JSON members and returning the response's; errors are thrown as {@link KmsError}.
 */
export class KmsService {
  private readonly stale = new Map<string, { snapshot: KeyRecord; remaining: number }>();
  private unsavedExpiry = false;
  /** When the earliest imported material expires; 0 forces a sweep on the first call. */
  private nextExpiryAt = 0;

  constructor(
    readonly state: KmsState,
    public faults: FaultInjector,
  ) {}

  /** Runs one operation. `record` receives the key the call was about, for the request log. */
  async call(operation: string, body: Json, ctx: CallContext, record: CallRecord): Promise<Json> {
    this.expireMaterials(ctx.now);
    const handler = this.handlers[operation];
    if (!handler) throw new KmsError('UnknownOperationException', `Operation ${operation} is not supported`);
    return handler(body, ctx, record);
  }

  private readonly handlers: Record<string, (b: Json, c: CallContext, r: CallRecord) => Json | Promise<Json>> = {
    CreateKey: (b, c, r) => this.createKey(b, c, r),
    DescribeKey: (b, c, r) => ({ KeyMetadata: this.metadata(this.read('DescribeKey', b, c, r, true)) }),
    ListKeys: (b, c) => this.listKeys(b, c),
    CreateAlias: (b, c, r) => this.createAlias(b, c, r),
    ListAliases: (b, c, r) => this.listAliases(b, c, r),
    ListKeyRotations: (b, c, r) => this.listKeyRotations(b, c, r),
    GetParametersForImport: (b, c, r) => this.getParametersForImport(b, c, r),
    ImportKeyMaterial: (b, c, r) => this.importKeyMaterial(b, c, r),
    DeleteImportedKeyMaterial: (b, c, r) => this.deleteImportedKeyMaterial(b, c, r),
    RotateKeyOnDemand: (b, c, r) => this.rotateKeyOnDemand(b, c, r),
    ScheduleKeyDeletion: (b, c, r) => this.scheduleKeyDeletion(b, c, r),
    CancelKeyDeletion: (b, c, r) => this.cancelKeyDeletion(b, c, r),
    EnableKey: (b, c, r) => this.setEnabled(b, c, r, true),
    DisableKey: (b, c, r) => this.setEnabled(b, c, r, false),
    Encrypt: (b, c, r) => this.encrypt(b, c, r),
    Decrypt: (b, c, r) => this.decrypt(b, c, r),
    GetKeyLastUsage: (b, c, r) => this.getKeyLastUsage(b, c, r),
    TagResource: (b, c, r) => this.tagResource(b, c, r),
    ListResourceTags: (b, c, r) => ({ Tags: this.read('ListResourceTags', b, c, r, false).tags, Truncated: false }),
    ReplicateKey: (b, c, r) => this.replicateKey(b, c, r),
  };

  // ---------------------------------------------------------------- keys and their state

  private keyState(key: KeyRecord): KeyState {
    return this.faults.pinnedState(key.keyId, key.arn) ?? deriveKeyState(key);
  }

  /**
   * Resolves a request's `KeyId` (key id, key ARN, and where `allowAlias`, alias name or alias ARN) to a key of
   * the request's Region, with KMS's errors for each way it can be wrong.
   */
  private resolve(body: Json, ctx: CallContext, record: CallRecord, allowAlias: boolean): KeyRecord {
    const raw = body.KeyId;
    if (raw === undefined || raw === null) throw validation('keyId', undefined, 'Member must not be null');
    if (typeof raw !== 'string') throw new KmsError('SerializationException', 'KeyId must be a string');
    if (raw.length < 1 || raw.length > 2048) {
      throw validation('keyId', raw, 'Member must have length between 1 and 2048');
    }
    let region = ctx.region;
    let kind: 'key' | 'alias' = raw.startsWith('alias/') ? 'alias' : 'key';
    let id = raw;
    if (raw.startsWith('arn:')) {
      const m = KEY_ARN_PATTERN.exec(raw);
      if (!m) throw new KmsError('InvalidArnException', `Invalid arn ${raw}`);
      const [, arnRegion, account, arnKind, rest] = m as unknown as [string, string, string, 'key' | 'alias', string];
      if (arnRegion !== ctx.region) throw new KmsError('NotFoundException', `Invalid arn ${arnRegion}`);
      if (account !== LOCAL_ACCOUNT_ID) throw new KmsError('NotFoundException', `Key '${raw}' does not exist`);
      region = arnRegion;
      kind = arnKind;
      id = arnKind === 'alias' ? `alias/${rest}` : rest;
    }
    if (kind === 'alias') {
      if (!allowAlias) throw new KmsError('NotFoundException', `Invalid keyId '${raw}'`);
      const alias = this.state.aliases.find((a) => a.region === region && a.aliasName === id);
      if (!alias) throw new KmsError('NotFoundException', `Alias ${keyArnForAlias(region, id)} is not found.`);
      id = alias.targetKeyId;
    } else if (!KEY_ID_PATTERN.test(id)) {
      throw new KmsError('NotFoundException', `Invalid keyId '${raw}'`);
    }
    const arn = keyArn(region, id);
    record.keyArn = arn;
    const key = this.state.keys[arn];
    if (!key) throw new KmsError('NotFoundException', `Key '${arn}' does not exist`);
    return key;
  }

  /** Resolves a key for a read, answering from the pre-change snapshot while a stale-read fault lasts. */
  private read(op: string, body: Json, ctx: CallContext, record: CallRecord, allowAlias: boolean): KeyRecord {
    const key = this.resolve(body, ctx, record, allowAlias);
    const stale = this.stale.get(key.arn);
    if (stale && STALE_READ_OPERATIONS.has(op) && stale.remaining > 0) {
      stale.remaining -= 1;
      return stale.snapshot;
    }
    return key;
  }

  /** Resolves a key for a change, keeping a snapshot for stale reads when the fault file asks for them. */
  private change(body: Json, ctx: CallContext, record: CallRecord): KeyRecord {
    const key = this.resolve(body, ctx, record, false);
    this.noteChange(key);
    return key;
  }

  private noteChange(key: KeyRecord): void {
    const calls = this.faults.staleReadCalls;
    if (calls > 0) this.stale.set(key.arn, { snapshot: structuredClone(key), remaining: calls });
  }

  private requireState(key: KeyRecord, allowed: KeyState[]): KeyState {
    const state = this.keyState(key);
    if (!allowed.includes(state)) throw new KmsError('KMSInvalidStateException', `${key.arn} is ${state}`);
    return state;
  }

  private requireExternal(key: KeyRecord, op: string): void {
    if (key.origin !== 'EXTERNAL') {
      throw new KmsError(
        'UnsupportedOperationException',
        `${key.arn} origin is ${key.origin} which is not valid for this operation (${op} needs origin EXTERNAL).`,
      );
    }
  }

  private replicasOf(primary: KeyRecord): KeyRecord[] {
    return Object.values(this.state.keys).filter((k) => k.primaryArn === primary.arn);
  }

  private metadata(key: KeyRecord): Json {
    const state = this.keyState(key);
    const permanent = key.materials.filter(isPermanent);
    const expiring = permanent.filter((m) => m.validTo !== undefined).map((m) => m.validTo as number);
    const current = currentMaterial(key);
    const primary = key.primaryArn ? this.state.keys[key.primaryArn] : key;
    return {
      AWSAccountId: LOCAL_ACCOUNT_ID,
      KeyId: key.keyId,
      Arn: key.arn,
      CreationDate: seconds(key.creationDate),
      Enabled: state === 'Enabled',
      Description: key.description,
      KeyUsage: 'ENCRYPT_DECRYPT',
      KeyState: state,
      ...(key.deletionDate !== undefined && {
        DeletionDate: seconds(key.deletionDate),
        PendingDeletionWindowInDays: key.pendingWindowInDays,
      }),
      Origin: key.origin,
      KeyManager: 'CUSTOMER',
      CustomerMasterKeySpec: 'SYMMETRIC_DEFAULT',
      KeySpec: 'SYMMETRIC_DEFAULT',
      EncryptionAlgorithms: ['SYMMETRIC_DEFAULT'],
      ...(key.origin === 'EXTERNAL' &&
        current && {
          ExpirationModel: expiring.length > 0 ? 'KEY_MATERIAL_EXPIRES' : 'KEY_MATERIAL_DOES_NOT_EXPIRE',
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

  // ---------------------------------------------------------------- expiry

  /** True once after a read expired material, so the caller persists a change no mutating call made. */
  takeUnsavedExpiry(): boolean {
    const unsaved = this.unsavedExpiry;
    this.unsavedExpiry = false;
    return unsaved;
  }

  /**
   * KMS deletes material itself when its ValidTo passes (CloudTrail `DeleteExpiredKeyMaterial`). The sweep runs only
   * once the earliest ValidTo has passed, so a call costs nothing extra on a state with many keys.
   */
  private expireMaterials(now: number): void {
    if (now < this.nextExpiryAt) return;
    let next = Infinity;
    for (const key of Object.values(this.state.keys)) {
      for (const m of [...key.materials]) {
        if (m.importState !== 'IMPORTED' || m.validTo === undefined) continue;
        if (m.validTo <= now) {
          this.noteChange(key);
          this.dropMaterial(key, m);
          this.unsavedExpiry = true;
        } else next = Math.min(next, m.validTo);
      }
    }
    this.nextExpiryAt = next;
  }

  /** Removes one material's bytes: permanent materials stay listed as PENDING_IMPORT, pending ones go. */
  private dropMaterial(key: KeyRecord, m: MaterialRecord): void {
    if (isPendingRotation(m)) {
      key.materials = key.materials.filter((x) => x !== m);
      return;
    }
    m.importState = 'PENDING_IMPORT';
    delete m.material;
  }

  // ---------------------------------------------------------------- operations

  private createKey(b: Json, ctx: CallContext, record: CallRecord): Json {
    const origin = (b.Origin as string | undefined) ?? 'AWS_KMS';
    if (origin !== 'AWS_KMS' && origin !== 'EXTERNAL') {
      throw new KmsError('UnsupportedOperationException', `Origin ${origin} is not supported by the local KMS`);
    }
    const keySpec = (b.KeySpec ?? b.CustomerMasterKeySpec ?? 'SYMMETRIC_DEFAULT') as string;
    if (keySpec !== 'SYMMETRIC_DEFAULT') {
      throw new KmsError('UnsupportedOperationException', `KeySpec ${keySpec} is not supported by the local KMS`);
    }
    const usage = (b.KeyUsage as string | undefined) ?? 'ENCRYPT_DECRYPT';
    if (usage !== 'ENCRYPT_DECRYPT') {
      throw validation('keyUsage', usage, 'Member must satisfy enum value set: [ENCRYPT_DECRYPT]');
    }
    const description = (b.Description as string | undefined) ?? '';
    if (description.length > 8192) throw validation('description', '…', 'Member must have length <= 8192');
    const multiRegion = b.MultiRegion === true;
    const keyId = multiRegion ? `mrk-${randomBytes(16).toString('hex')}` : randomUUID();
    const generated = randomBytes(MATERIAL_BYTES);
    const key: KeyRecord = {
      keyId,
      arn: keyArn(ctx.region, keyId),
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
      tags: parseTags(b.Tags),
    };
    this.state.keys[key.arn] = key;
    record.keyArn = key.arn;
    return { KeyMetadata: this.metadata(key) };
  }

  private listKeys(b: Json, ctx: CallContext): Json {
    const keys = Object.values(this.state.keys).filter((k) => k.region === ctx.region);
    const page = paginate(keys, b);
    return {
      Keys: page.items.map((k) => ({ KeyId: k.keyId, KeyArn: k.arn })),
      Truncated: page.next !== undefined,
      ...(page.next !== undefined && { NextMarker: page.next }),
    };
  }

  private createAlias(b: Json, ctx: CallContext, record: CallRecord): Json {
    const aliasName = b.AliasName;
    if (typeof aliasName !== 'string' || !ALIAS_NAME_PATTERN.test(aliasName)) {
      throw validation(
        'aliasName',
        aliasName,
        `Member must satisfy regular expression pattern: ^alias/[a-zA-Z0-9/_-]+$`,
      );
    }
    if (aliasName.startsWith('alias/aws/')) {
      throw new KmsError('NotFoundException', `Alias names that begin with alias/aws/ are reserved.`);
    }
    const key = this.resolve({ KeyId: b.TargetKeyId }, ctx, record, false);
    if (this.state.aliases.some((a) => a.region === ctx.region && a.aliasName === aliasName)) {
      throw new KmsError(
        'AlreadyExistsException',
        `An alias with the name ${keyArnForAlias(ctx.region, aliasName)} already exists`,
      );
    }
    this.state.aliases.push({ aliasName, region: ctx.region, targetKeyId: key.keyId, creationDate: ctx.now });
    return {};
  }

  private listAliases(b: Json, ctx: CallContext, record: CallRecord): Json {
    const target = b.KeyId === undefined ? undefined : this.resolve(b, ctx, record, false);
    const aliases = this.state.aliases.filter(
      (a) => a.region === ctx.region && (!target || a.targetKeyId === target.keyId),
    );
    const page = paginate(aliases, b);
    return {
      Aliases: page.items.map((a) => ({
        AliasName: a.aliasName,
        AliasArn: keyArnForAlias(a.region, a.aliasName),
        TargetKeyId: a.targetKeyId,
        CreationDate: seconds(a.creationDate),
      })),
      Truncated: page.next !== undefined,
      ...(page.next !== undefined && { NextMarker: page.next }),
    };
  }

  private listKeyRotations(b: Json, ctx: CallContext, record: CallRecord): Json {
    const key = this.read('ListKeyRotations', b, ctx, record, false);
    const include = (b.IncludeKeyMaterial as string | undefined) ?? 'ROTATIONS_ONLY';
    if (include !== 'ALL_KEY_MATERIAL' && include !== 'ROTATIONS_ONLY') {
      throw validation(
        'includeKeyMaterial',
        include,
        'Member must satisfy enum value set: [ALL_KEY_MATERIAL, ROTATIONS_ONLY]',
      );
    }
    const materials =
      include === 'ALL_KEY_MATERIAL' ? key.materials : key.materials.filter((m) => m.rotationDate !== undefined);
    const page = paginate(materials, b);
    return {
      Rotations: page.items.map((m) => ({
        KeyId: key.keyId,
        KeyMaterialId: m.keyMaterialId,
        ...(m.description !== undefined && { KeyMaterialDescription: m.description }),
        ...(key.origin === 'EXTERNAL' && { ImportState: m.importState, ExpirationModel: m.expirationModel }),
        KeyMaterialState: m.materialState,
        ...(m.validTo !== undefined && { ValidTo: seconds(m.validTo) }),
        ...(m.rotationDate !== undefined && { RotationDate: seconds(m.rotationDate), RotationType: m.rotationType }),
      })),
      Truncated: page.next !== undefined,
      ...(page.next !== undefined && { NextMarker: page.next }),
    };
  }

  private async getParametersForImport(b: Json, ctx: CallContext, record: CallRecord): Promise<Json> {
    const key = this.resolve(b, ctx, record, false);
    this.requireExternal(key, 'GetParametersForImport');
    this.requireState(key, ['Enabled', 'Disabled', 'PendingImport']);
    const algorithm = b.WrappingAlgorithm;
    if (algorithm !== 'RSAES_OAEP_SHA_1' && algorithm !== 'RSAES_OAEP_SHA_256') {
      throw new KmsError(
        'UnsupportedOperationException',
        `WrappingAlgorithm ${String(algorithm)} is not supported by the local KMS: use RSAES_OAEP_SHA_256 or RSAES_OAEP_SHA_1`,
      );
    }
    const spec = b.WrappingKeySpec;
    if (typeof spec !== 'string' || !(spec in WRAPPING_KEY_BITS)) {
      throw new KmsError(
        'UnsupportedOperationException',
        `WrappingKeySpec ${String(spec)} is not supported by the local KMS: use RSA_2048, RSA_3072 or RSA_4096`,
      );
    }
    const { publicKey, privateKey } = await generateKeyPairAsync('rsa', {
      modulusLength: WRAPPING_KEY_BITS[spec as keyof typeof WRAPPING_KEY_BITS],
      publicKeyEncoding: { type: 'spki', format: 'der' },
      privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
    });
    const token = randomBytes(64);
    const expiresAt = ctx.now + IMPORT_TOKEN_TTL_MS;
    this.pruneImportTokens(ctx.now);
    this.state.importTokens[token.toString('hex')] = {
      keyArn: key.arn,
      privateKeyPem: privateKey,
      wrappingAlgorithm: algorithm,
      expiresAt,
    };
    return {
      KeyId: key.arn,
      ImportToken: token.toString('base64'),
      PublicKey: publicKey.toString('base64'),
      ParametersValidTo: seconds(expiresAt),
    };
  }

  private pruneImportTokens(now: number): void {
    for (const [id, t] of Object.entries(this.state.importTokens)) {
      if (t.expiresAt + IMPORT_TOKEN_TTL_MS < now) delete this.state.importTokens[id];
    }
  }

  private importKeyMaterial(b: Json, ctx: CallContext, record: CallRecord): Json {
    const key = this.change(b, ctx, record);
    this.requireExternal(key, 'ImportKeyMaterial');
    this.requireState(key, ['Enabled', 'Disabled', 'PendingImport']);
    const token = this.state.importTokens[blob(b.ImportToken, 'importToken').toString('hex')];
    if (!token || token.keyArn !== key.arn) {
      throw new KmsError('InvalidImportTokenException', 'The import token is not valid for this KMS key');
    }
    if (token.expiresAt <= ctx.now) throw new KmsError('ExpiredImportTokenException', 'The import token has expired');
    let material: Buffer;
    try {
      material = privateDecrypt(
        {
          key: token.privateKeyPem,
          padding: cryptoConstants.RSA_PKCS1_OAEP_PADDING,
          oaepHash: OAEP_HASH[token.wrappingAlgorithm],
        },
        blob(b.EncryptedKeyMaterial, 'encryptedKeyMaterial'),
      );
    } catch (err) {
      throw Object.assign(
        new KmsError('InvalidCiphertextException', 'The encrypted key material could not be unwrapped'),
        { cause: err },
      );
    }
    if (material.length !== MATERIAL_BYTES) {
      throw new KmsError(
        'IncorrectKeyMaterialException',
        `Key material for SYMMETRIC_DEFAULT must be 256 bits; got ${material.length * 8} bits`,
      );
    }
    const expiry = parseExpiry(b, ctx.now);
    const id = materialId(key.keyId, material);
    if (b.KeyMaterialId !== undefined && b.KeyMaterialId !== id) {
      checkKeyMaterialId(b.KeyMaterialId);
      throw new KmsError(
        'IncorrectKeyMaterialException',
        `The key material does not match KeyMaterialId ${String(b.KeyMaterialId)}`,
      );
    }
    const description = b.KeyMaterialDescription as string | undefined;
    const importType = (b.ImportType as string | undefined) ?? 'EXISTING_KEY_MATERIAL';
    if (importType !== 'NEW_KEY_MATERIAL' && importType !== 'EXISTING_KEY_MATERIAL') {
      throw validation(
        'importType',
        importType,
        'Member must satisfy enum value set: [NEW_KEY_MATERIAL, EXISTING_KEY_MATERIAL]',
      );
    }
    const wasPendingImport = this.keyState(key) === 'PendingImport';
    if (expiry.validTo !== undefined) this.nextExpiryAt = Math.min(this.nextExpiryAt, expiry.validTo);
    const imported = { importState: 'IMPORTED' as const, material: material.toString('base64'), ...expiry };

    if (key.materials.length === 0) {
      // The first material of a key becomes current and permanently associated, whatever the import type.
      key.materials.push({ keyMaterialId: id, materialState: 'CURRENT', description, ...imported });
    } else if (importType === 'EXISTING_KEY_MATERIAL') {
      const existing = key.materials.find((m) => m.keyMaterialId === id);
      if (!existing) {
        throw new KmsError(
          'IncorrectKeyMaterialException',
          `The key material is different from the key material previously imported into ${key.arn}`,
        );
      }
      Object.assign(existing, imported, description !== undefined && { description });
      if (key.primaryArn) this.settleMultiRegionImport(key.primaryArn, id);
    } else {
      if (key.primaryArn) {
        throw new KmsError(
          'UnsupportedOperationException',
          `New key material can be imported only into the primary key; import it into ${key.primaryArn} first`,
        );
      }
      if (key.materials.some((m) => m.keyMaterialId === id)) {
        throw new KmsError('IncorrectKeyMaterialException', `This key material is already associated with ${key.arn}`);
      }
      if (key.materials.some(isPendingRotation)) {
        throw new KmsError(
          'KMSInvalidStateException',
          `${key.arn} already has key material pending rotation; rotate or delete it first`,
        );
      }
      const replicas = this.replicasOf(key);
      key.materials.push({
        keyMaterialId: id,
        materialState: replicas.length > 0 ? 'PENDING_MULTI_REGION_IMPORT_AND_ROTATION' : 'PENDING_ROTATION',
        description,
        ...imported,
      });
      for (const replica of replicas) {
        this.noteChange(replica);
        replica.materials.push({
          keyMaterialId: id,
          materialState: 'PENDING_MULTI_REGION_IMPORT_AND_ROTATION',
          importState: 'PENDING_IMPORT',
          description,
        });
      }
    }
    record.keyMaterialId = id;
    // Importing into a key that was PendingImport makes it Enabled (KMS developer guide, "Import key material").
    if (wasPendingImport && deriveKeyState(key) !== 'PendingImport') key.enabled = true;
    return { KeyId: key.arn, KeyMaterialId: id };
  }

  /** Once every replica holds a new material, the primary's copy becomes PENDING_ROTATION. */
  private settleMultiRegionImport(primaryArn: string, id: string): void {
    const primary = this.state.keys[primaryArn];
    const pending = primary?.materials.find(
      (m) => m.keyMaterialId === id && m.materialState === 'PENDING_MULTI_REGION_IMPORT_AND_ROTATION',
    );
    if (!primary || !pending) return;
    const everywhere = this.replicasOf(primary).every((r) =>
      r.materials.some((m) => m.keyMaterialId === id && m.importState === 'IMPORTED'),
    );
    if (everywhere) {
      this.noteChange(primary);
      for (const k of [primary, ...this.replicasOf(primary)]) {
        const m = k.materials.find((x) => x.keyMaterialId === id);
        if (m) m.materialState = 'PENDING_ROTATION';
      }
    }
  }

  private deleteImportedKeyMaterial(b: Json, ctx: CallContext, record: CallRecord): Json {
    const key = this.change(b, ctx, record);
    this.requireExternal(key, 'DeleteImportedKeyMaterial');
    this.requireState(key, ['Enabled', 'Disabled', 'PendingImport', 'PendingDeletion']);
    let target: MaterialRecord | undefined;
    if (b.KeyMaterialId !== undefined) {
      const id = checkKeyMaterialId(b.KeyMaterialId);
      target = key.materials.find((m) => m.keyMaterialId === id);
      if (!target) throw new KmsError('NotFoundException', `Key material ${id} is not associated with ${key.arn}`);
    } else {
      target = currentMaterial(key);
      if (!target) return { KeyId: key.arn };
    }
    const response = { KeyId: key.arn, KeyMaterialId: target.keyMaterialId };
    record.keyMaterialId = target.keyMaterialId;
    if (target.importState === 'PENDING_IMPORT') return response;
    const cascades = isPendingRotation(target) && key.multiRegion && !key.primaryArn;
    this.dropMaterial(key, target);
    if (cascades) {
      // Deleting a primary key's pending material deletes it from every replica too.
      for (const replica of this.replicasOf(key)) {
        const copy = replica.materials.find((m) => m.keyMaterialId === target.keyMaterialId);
        if (copy) {
          this.noteChange(replica);
          this.dropMaterial(replica, copy);
        }
      }
    }
    return response;
  }

  private rotateKeyOnDemand(b: Json, ctx: CallContext, record: CallRecord): Json {
    const key = this.change(b, ctx, record);
    if (key.primaryArn) {
      throw new KmsError('UnsupportedOperationException', `Rotate the primary key ${key.primaryArn}, not a replica`);
    }
    this.requireState(key, ['Enabled']);
    const keys = [key, ...this.replicasOf(key)];
    let newId: string;
    if (key.origin === 'EXTERNAL') {
      const pending = key.materials.find(isPendingRotation);
      if (!pending || pending.materialState !== 'PENDING_ROTATION') {
        throw new KmsError(
          'KMSInvalidStateException',
          pending
            ? `Key material ${pending.keyMaterialId} is not yet imported into every replica of ${key.arn}`
            : `${key.arn} has no key material in PENDING_ROTATION: import new key material first`,
        );
      }
      newId = pending.keyMaterialId;
    } else {
      const bytes = randomBytes(MATERIAL_BYTES);
      newId = materialId(key.keyId, bytes);
      for (const k of keys) {
        k.materials.push({
          keyMaterialId: newId,
          materialState: 'PENDING_ROTATION',
          importState: 'IMPORTED',
          material: bytes.toString('base64'),
        });
      }
    }
    for (const k of keys) {
      this.noteChange(k);
      for (const m of k.materials) {
        if (m.materialState === 'CURRENT') m.materialState = 'NON_CURRENT';
        if (m.keyMaterialId === newId) {
          Object.assign(m, { materialState: 'CURRENT', rotationDate: ctx.now, rotationType: 'ON_DEMAND' });
        }
      }
    }
    return { KeyId: key.keyId };
  }

  private scheduleKeyDeletion(b: Json, ctx: CallContext, record: CallRecord): Json {
    const key = this.change(b, ctx, record);
    const days = (b.PendingWindowInDays as number | undefined) ?? 30;
    if (!Number.isInteger(days) || days < 7 || days > 30) {
      throw validation('pendingWindowInDays', days, 'Member must have value between 7 and 30');
    }
    this.requireState(key, ['Enabled', 'Disabled', 'PendingImport']);
    key.deletionDate = ctx.now + days * 24 * 3600 * 1000;
    key.pendingWindowInDays = days;
    return {
      KeyId: key.arn,
      DeletionDate: seconds(key.deletionDate),
      KeyState: this.keyState(key),
      PendingWindowInDays: days,
    };
  }

  private cancelKeyDeletion(b: Json, ctx: CallContext, record: CallRecord): Json {
    const key = this.change(b, ctx, record);
    this.requireState(key, ['PendingDeletion']);
    delete key.deletionDate;
    delete key.pendingWindowInDays;
    key.enabled = false;
    return { KeyId: key.arn };
  }

  private setEnabled(b: Json, ctx: CallContext, record: CallRecord, enabled: boolean): Json {
    const key = this.change(b, ctx, record);
    this.requireState(key, ['Enabled', 'Disabled']);
    key.enabled = enabled;
    return {};
  }

  private usable(key: KeyRecord): void {
    const state = this.keyState(key);
    if (state === 'Disabled') throw new KmsError('DisabledException', `${key.arn} is disabled.`);
    if (state !== 'Enabled') throw new KmsError('KMSInvalidStateException', `${key.arn} is ${state}`);
  }

  private encrypt(b: Json, ctx: CallContext, record: CallRecord): Json {
    const key = this.resolve(b, ctx, record, true);
    this.usable(key);
    const plaintext = blob(b.Plaintext, 'plaintext');
    if (plaintext.length < 1 || plaintext.length > 4096) {
      throw validation('plaintext', '…', 'Member must have length between 1 and 4096');
    }
    const material = currentMaterial(key) as MaterialRecord;
    const iv = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', Buffer.from(material.material as string, 'base64'), iv);
    cipher.setAAD(encryptionContext(b.EncryptionContext));
    const body = Buffer.concat([cipher.update(plaintext), cipher.final()]);
    const keyIdBytes = Buffer.from(key.keyId);
    const ciphertext = Buffer.concat([
      CIPHERTEXT_MAGIC,
      Buffer.from([keyIdBytes.length]),
      keyIdBytes,
      Buffer.from(material.keyMaterialId, 'hex'),
      iv,
      cipher.getAuthTag(),
      body,
    ]);
    key.lastUsage = { operation: 'Encrypt', timestamp: ctx.now, requestId: ctx.requestId };
    return { CiphertextBlob: ciphertext.toString('base64'), KeyId: key.arn, EncryptionAlgorithm: 'SYMMETRIC_DEFAULT' };
  }

  private decrypt(b: Json, ctx: CallContext, record: CallRecord): Json {
    const data = blob(b.CiphertextBlob, 'ciphertextBlob');
    const invalid = () => new KmsError('InvalidCiphertextException', 'The ciphertext is not valid');
    if (data.length < 5 || !data.subarray(0, 4).equals(CIPHERTEXT_MAGIC)) throw invalid();
    const idLength = data[4] as number;
    let at = 5;
    const embeddedKeyId = data.subarray(at, (at += idLength)).toString();
    const embeddedMaterialId = data.subarray(at, (at += 32)).toString('hex');
    const iv = data.subarray(at, (at += 12));
    const tag = data.subarray(at, (at += 16));
    if (data.length < at) throw invalid();
    const key =
      b.KeyId === undefined
        ? this.resolve({ KeyId: embeddedKeyId }, ctx, record, false)
        : this.resolve(b, ctx, record, true);
    if (key.keyId !== embeddedKeyId) {
      throw new KmsError(
        'IncorrectKeyException',
        'The key ID in the request does not identify a KMS key that can perform this operation.',
      );
    }
    this.usable(key);
    const material = key.materials.find((m) => m.keyMaterialId === embeddedMaterialId && m.material);
    if (!material) throw invalid();
    try {
      const decipher = createDecipheriv('aes-256-gcm', Buffer.from(material.material as string, 'base64'), iv);
      decipher.setAAD(encryptionContext(b.EncryptionContext));
      decipher.setAuthTag(tag);
      const plaintext = Buffer.concat([decipher.update(data.subarray(at)), decipher.final()]);
      key.lastUsage = { operation: 'Decrypt', timestamp: ctx.now, requestId: ctx.requestId };
      return {
        KeyId: key.arn,
        Plaintext: plaintext.toString('base64'),
        EncryptionAlgorithm: 'SYMMETRIC_DEFAULT',
        KeyMaterialId: material.keyMaterialId,
      };
    } catch (err) {
      throw Object.assign(invalid(), { cause: err });
    }
  }

  private getKeyLastUsage(b: Json, ctx: CallContext, record: CallRecord): Json {
    const key = this.read('GetKeyLastUsage', b, ctx, record, false);
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
  }

  private tagResource(b: Json, ctx: CallContext, record: CallRecord): Json {
    const key = this.change(b, ctx, record);
    for (const tag of parseTags(b.Tags)) {
      key.tags = [...key.tags.filter((t) => t.TagKey !== tag.TagKey), tag];
    }
    return {};
  }

  private replicateKey(b: Json, ctx: CallContext, record: CallRecord): Json {
    const key = this.change(b, ctx, record);
    if (!key.multiRegion || key.primaryArn) {
      throw new KmsError('UnsupportedOperationException', `${key.arn} is not a multi-Region primary key`);
    }
    const region = b.ReplicaRegion;
    if (typeof region !== 'string' || !REGION_PATTERN.test(region)) {
      throw validation('replicaRegion', region, 'Member must satisfy regular expression pattern: ^([a-z]+-){2,3}\\d+$');
    }
    if (region === key.region) {
      throw new KmsError(
        'ValidationException',
        `The replica Region must differ from the primary key's Region ${region}`,
      );
    }
    const arn = keyArn(region, key.keyId);
    if (this.state.keys[arn]) throw new KmsError('AlreadyExistsException', `Replica ${arn} already exists`);
    const replica: KeyRecord = {
      ...structuredClone(key),
      arn,
      region,
      creationDate: ctx.now,
      primaryArn: key.arn,
      description: (b.Description as string | undefined) ?? key.description,
      tags: parseTags(b.Tags),
      // A replica of an imported key starts with no material: the same materials must be imported into it.
      materials: key.materials.map((m) =>
        key.origin === 'EXTERNAL'
          ? { ...structuredClone(m), importState: 'PENDING_IMPORT' as const, material: undefined }
          : structuredClone(m),
      ),
    };
    delete replica.lastUsage;
    for (const m of replica.materials) if (m.material === undefined) delete m.material;
    this.state.keys[arn] = replica;
    // KMS answers while the replica is still being created.
    return {
      ReplicaKeyMetadata: { ...this.metadata(replica), KeyState: 'Creating', Enabled: false },
      ReplicaTags: replica.tags,
    };
  }
}

// ---------------------------------------------------------------- helpers

const keyArnForAlias = (region: string, aliasName: string): string =>
  `arn:aws:kms:${region}:${LOCAL_ACCOUNT_ID}:${aliasName}`;

/** KMS derives a material's id from the key and the material, so reimporting the same material yields the same id. */
export const materialId = (keyId: string, material: Buffer): string =>
  createHash('sha256').update(keyId).update(material).digest('hex');

function checkKeyMaterialId(value: unknown): string {
  if (typeof value !== 'string' || !KEY_MATERIAL_ID_PATTERN.test(value)) {
    throw validation(
      'keyMaterialId',
      value,
      'Member must have length equal to 64 and satisfy regular expression pattern: ^[a-f0-9]+$',
    );
  }
  return value;
}

function blob(value: unknown, member: string): Buffer {
  if (value === undefined || value === null) throw validation(member, undefined, 'Member must not be null');
  if (typeof value !== 'string') throw new KmsError('SerializationException', `${member} must be a base64 blob`);
  return Buffer.from(value, 'base64');
}

function parseTags(value: unknown): { TagKey: string; TagValue: string }[] {
  if (value === undefined) return [];
  if (!Array.isArray(value)) throw new KmsError('SerializationException', 'Tags must be a list');
  return value.map((t: { TagKey?: unknown; TagValue?: unknown }) => {
    if (typeof t?.TagKey !== 'string' || t.TagKey.length < 1 || t.TagKey.length > 128) {
      throw validation('tags.member.tagKey', t?.TagKey, 'Member must have length between 1 and 128');
    }
    if (typeof t.TagValue !== 'string' || t.TagValue.length > 256) {
      throw validation('tags.member.tagValue', t.TagValue, 'Member must have length between 0 and 256');
    }
    return { TagKey: t.TagKey, TagValue: t.TagValue };
  });
}

function encryptionContext(value: unknown): Buffer {
  if (value === undefined) return Buffer.alloc(0);
  if (typeof value !== 'object' || value === null) {
    throw new KmsError('SerializationException', 'EncryptionContext must be a map');
  }
  const sorted = Object.entries(value as Record<string, string>).sort(([a], [b]) => a.localeCompare(b));
  return Buffer.from(JSON.stringify(sorted));
}

function parseExpiry(b: Json, now: number): { expirationModel: ExpirationModel; validTo?: number } {
  const model = b.ExpirationModel as string | undefined;
  const validTo = b.ValidTo as number | undefined;
  if (model !== undefined && model !== 'KEY_MATERIAL_EXPIRES' && model !== 'KEY_MATERIAL_DOES_NOT_EXPIRE') {
    throw validation(
      'expirationModel',
      model,
      'Member must satisfy enum value set: [KEY_MATERIAL_EXPIRES, KEY_MATERIAL_DOES_NOT_EXPIRE]',
    );
  }
  const expires = model === 'KEY_MATERIAL_EXPIRES' || (model === undefined && validTo !== undefined);
  if (!expires) {
    if (validTo !== undefined) {
      throw new KmsError(
        'ValidationException',
        'ValidTo must be omitted when ExpirationModel is KEY_MATERIAL_DOES_NOT_EXPIRE',
      );
    }
    return { expirationModel: 'KEY_MATERIAL_DOES_NOT_EXPIRE' };
  }
  if (typeof validTo !== 'number') {
    throw new KmsError('ValidationException', 'ValidTo is required when ExpirationModel is KEY_MATERIAL_EXPIRES');
  }
  const ms = validTo * 1000;
  if (ms <= now) throw new KmsError('ValidationException', `ValidTo ${new Date(ms).toISOString()} is in the past`);
  if (ms > now + MAX_VALID_TO_MS) {
    throw new KmsError('ValidationException', `ValidTo ${new Date(ms).toISOString()} is more than 365 days from now`);
  }
  return { expirationModel: 'KEY_MATERIAL_EXPIRES', validTo: ms };
}

/** Pages a list with KMS's `Limit` (1..1000, default 100) and opaque `Marker`. */
function paginate<T>(items: T[], b: Json): { items: T[]; next?: string } {
  const limit = (b.Limit as number | undefined) ?? 100;
  if (!Number.isInteger(limit) || limit < 1 || limit > 1000) {
    throw validation('limit', limit, 'Member must have value between 1 and 1000');
  }
  let start = 0;
  if (b.Marker !== undefined) {
    const decoded = typeof b.Marker === 'string' ? Number(Buffer.from(b.Marker, 'base64url').toString()) : NaN;
    if (!Number.isInteger(decoded) || decoded < 0 || decoded > items.length) {
      throw new KmsError('InvalidMarkerException', 'The marker is not valid');
    }
    start = decoded;
  }
  const end = start + limit;
  return {
    items: items.slice(start, end),
    ...(end < items.length && { next: Buffer.from(String(end)).toString('base64url') }),
  };
}
