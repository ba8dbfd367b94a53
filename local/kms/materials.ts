import { randomBytes } from 'node:crypto';
import {
  MATERIAL_BYTES,
  generateMaterial,
  isWrappingKeySpec,
  materialId,
  newWrappingKeyPair,
  unwrapMaterial,
} from './crypto';
import { KmsError, invalidState } from './errors';
import { WRAPPING_ALGORITHMS, isWrappingAlgorithm } from '../../core/key-wrap';
import {
  accountOf,
  currentMaterial,
  deriveKeyState,
  isPendingRotation,
  keyArn,
  keySpecOf,
  type KeyRecord,
  type MaterialRecord,
} from './model';
import { defaultKeyPolicy } from './key-policy';
import type { Keys } from './keys';
import {
  blob,
  checkKeyMaterialId,
  checkRegion,
  enumMember,
  mergeTags,
  optionalString,
  pageMembers,
  paginate,
  parseExpiry,
  parseTags,
  seconds,
  type CallContext,
  type CallRecord,
  type Json,
  type OperationTable,
} from './wire';

/** How long an import token and its wrapping key are valid. */
const IMPORT_TOKEN_TTL_MS = 24 * 3600 * 1000;
/**
 * On-demand rotations KMS allows per key. The reference pages disagree (the API reference says 10, the developer
 * guide's resource quotas 25, not adjustable): the emulator follows the quota table, the newer of the two.
 */
export const MAX_ON_DEMAND_ROTATIONS = 25;

/**
 * The life of key material: import (with its parameters and token), expiry, on-demand rotation, deletion, and how
 * all of these reach the replicas of a multi-Region key.
 */
export class MaterialLifecycle {
  private unsavedExpiry = false;
  /** When the earliest imported material expires; 0 forces a sweep on the first call. */
  private nextExpiryAt = 0;

  constructor(private readonly keys: Keys) {}

  /** True once after a sweep expired material, so the caller persists a change that no mutating call made. */
  takeUnsavedExpiry(): boolean {
    const unsaved = this.unsavedExpiry;
    this.unsavedExpiry = false;
    return unsaved;
  }

  /** Forgets where the expiry sweep stopped: the state was put back as committed, so the next call sweeps again. */
  rewound(): void {
    this.nextExpiryAt = 0;
    this.unsavedExpiry = false;
  }

  /**
   * KMS deletes material itself when its ValidTo passes (CloudTrail `DeleteExpiredKeyMaterial`). The sweep runs only
   * once the earliest ValidTo has passed, so a call costs nothing extra on a state with many keys.
   */
  expire(now: number): void {
    if (now < this.nextExpiryAt) return;
    let next = Infinity;
    for (const key of Object.values(this.keys.state.keys)) {
      for (const material of [...key.materials]) {
        if (material.importState !== 'IMPORTED' || material.validTo === undefined) continue;
        if (material.validTo <= now) {
          this.keys.noteChange(key);
          this.drop(key, material);
          this.unsavedExpiry = true;
        } else next = Math.min(next, material.validTo);
      }
    }
    this.nextExpiryAt = next;
  }

  operations(): OperationTable {
    return {
      GetParametersForImport: (body, ctx, record) => this.getParametersForImport(body, ctx, record),
      ImportKeyMaterial: (body, ctx, record) => this.importKeyMaterial(body, ctx, record),
      DeleteImportedKeyMaterial: (body, ctx, record) => this.deleteImportedKeyMaterial(body, ctx, record),
      RotateKeyOnDemand: (body, ctx, record) => this.rotateKeyOnDemand(body, ctx, record),
      ListKeyRotations: (body, ctx, record) => this.listKeyRotations(body, ctx, record),
      ReplicateKey: (body, ctx, record) => this.replicateKey(body, ctx, record),
    };
  }

  private async getParametersForImport(body: Json, ctx: CallContext, record: CallRecord): Promise<Json> {
    const key = this.keys.resolve(body.KeyId, ctx, record, false);
    this.keys.requireExternal(key);
    this.keys.requireState(key, ['Enabled', 'Disabled', 'PendingImport']);
    const algorithm = body.WrappingAlgorithm;
    if (!isWrappingAlgorithm(algorithm)) {
      throw new KmsError(
        'UnsupportedOperationException',
        `WrappingAlgorithm ${String(algorithm)} is not supported by the local KMS: use one of ${WRAPPING_ALGORITHMS.join(', ')}`,
      );
    }
    const spec = body.WrappingKeySpec;
    if (!isWrappingKeySpec(spec)) {
      throw new KmsError(
        'UnsupportedOperationException',
        `WrappingKeySpec ${String(spec)} is not supported by the local KMS: use RSA_2048, RSA_3072 or RSA_4096`,
      );
    }
    const { publicKey, privateKeyPem } = await newWrappingKeyPair(spec);
    const token = randomBytes(64);
    const expiresAt = ctx.now + IMPORT_TOKEN_TTL_MS;
    this.pruneImportTokens(ctx.now);
    this.keys.state.importTokens[token.toString('hex')] = {
      keyArn: key.arn,
      privateKeyPem,
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

  /** Forgets tokens a day after they expired: until then an import with one says "expired", not "not valid". */
  private pruneImportTokens(now: number): void {
    const tokens = this.keys.state.importTokens;
    for (const [id, token] of Object.entries(tokens)) {
      if (token.expiresAt + IMPORT_TOKEN_TTL_MS < now) delete tokens[id];
    }
  }

  private importKeyMaterial(body: Json, ctx: CallContext, record: CallRecord): Json {
    const key = this.keys.change(body, ctx, record);
    this.keys.requireExternal(key);
    this.keys.requireState(key, ['Enabled', 'Disabled', 'PendingImport']);
    const token = this.keys.state.importTokens[blob(body.ImportToken, 'importToken').toString('hex')];
    if (!token || token.keyArn !== key.arn) {
      throw new KmsError('InvalidImportTokenException', 'The import token is not valid for this KMS key');
    }
    if (token.expiresAt <= ctx.now) throw new KmsError('ExpiredImportTokenException', 'The import token has expired');
    const material = unwrapMaterial(token, blob(body.EncryptedKeyMaterial, 'encryptedKeyMaterial'));
    if (material.length !== MATERIAL_BYTES) {
      throw new KmsError(
        'IncorrectKeyMaterialException',
        `Key material for SYMMETRIC_DEFAULT must be 256 bits; got ${material.length * 8} bits`,
      );
    }
    const expiry = parseExpiry(body, ctx.now);
    const importType = enumMember(
      body,
      'ImportType',
      ['NEW_KEY_MATERIAL', 'EXISTING_KEY_MATERIAL'],
      'EXISTING_KEY_MATERIAL',
    );
    if (body.KeyMaterialId !== undefined && importType === 'NEW_KEY_MATERIAL') {
      // AWS refuses the pair; its text is not recorded, so this one says what the reference says.
      throw new KmsError(
        'ValidationException',
        'KeyMaterialId can be specified only when ImportType is EXISTING_KEY_MATERIAL',
      );
    }
    const id = materialId(key.keyId, material);
    if (body.KeyMaterialId !== undefined && body.KeyMaterialId !== id) {
      checkKeyMaterialId(body.KeyMaterialId);
      throw new KmsError(
        'IncorrectKeyMaterialException',
        `The key material does not match KeyMaterialId ${String(body.KeyMaterialId)}`,
      );
    }
    const description = optionalString(body, 'KeyMaterialDescription');
    const wasPendingImport = this.keys.stateOf(key) === 'PendingImport';
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
      this.importNewMaterial(key, id, description, imported);
    }
    record.keyMaterialId = id;
    // Importing into a key that was PendingImport makes it Enabled (KMS developer guide, "Import key material").
    if (wasPendingImport && deriveKeyState(key) !== 'PendingImport') key.enabled = true;
    return { KeyId: key.arn, KeyMaterialId: id };
  }

  /** NEW_KEY_MATERIAL into a primary key: pending rotation here, pending import into every replica. */
  private importNewMaterial(
    key: KeyRecord,
    id: string,
    description: string | undefined,
    imported: Pick<MaterialRecord, 'importState' | 'material' | 'expirationModel' | 'validTo'>,
  ): void {
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
    const replicas = this.keys.replicasOf(key);
    key.materials.push({
      keyMaterialId: id,
      materialState: replicas.length > 0 ? 'PENDING_MULTI_REGION_IMPORT_AND_ROTATION' : 'PENDING_ROTATION',
      description,
      ...imported,
    });
    for (const replica of replicas) {
      this.keys.noteChange(replica);
      replica.materials.push({
        keyMaterialId: id,
        materialState: 'PENDING_MULTI_REGION_IMPORT_AND_ROTATION',
        importState: 'PENDING_IMPORT',
        description,
      });
    }
  }

  /** Once every replica holds a new material, the primary's copy (and every replica's) becomes PENDING_ROTATION. */
  private settleMultiRegionImport(primaryArn: string, id: string): void {
    const primary = this.keys.state.keys[primaryArn];
    const pending = primary?.materials.find(
      (m) => m.keyMaterialId === id && m.materialState === 'PENDING_MULTI_REGION_IMPORT_AND_ROTATION',
    );
    if (!primary || !pending) return;
    const everywhere = this.keys
      .replicasOf(primary)
      .every((r) => r.materials.some((m) => m.keyMaterialId === id && m.importState === 'IMPORTED'));
    if (everywhere) {
      this.keys.noteChange(primary);
      for (const k of [primary, ...this.keys.replicasOf(primary)]) {
        const m = k.materials.find((x) => x.keyMaterialId === id);
        if (m) m.materialState = 'PENDING_ROTATION';
      }
    }
  }

  private deleteImportedKeyMaterial(body: Json, ctx: CallContext, record: CallRecord): Json {
    const key = this.keys.change(body, ctx, record);
    this.keys.requireExternal(key);
    // The key-state table does not list PendingReplicaDeletion for this operation; the emulator treats it as
    // PendingDeletion (the deletion goes through).
    this.keys.requireState(key, ['Enabled', 'Disabled', 'PendingImport', 'PendingDeletion', 'PendingReplicaDeletion']);
    let target: MaterialRecord | undefined;
    if (body.KeyMaterialId !== undefined) {
      const id = checkKeyMaterialId(body.KeyMaterialId);
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
    this.drop(key, target);
    if (cascades) {
      // Deleting a primary key's pending material deletes it from every replica too.
      for (const replica of this.keys.replicasOf(key)) {
        const copy = replica.materials.find((m) => m.keyMaterialId === target.keyMaterialId);
        if (copy) {
          this.keys.noteChange(replica);
          this.drop(replica, copy);
        }
      }
    }
    return response;
  }

  private rotateKeyOnDemand(body: Json, ctx: CallContext, record: CallRecord): Json {
    const key = this.keys.change(body, ctx, record);
    if (key.primaryArn) {
      throw new KmsError('UnsupportedOperationException', `Rotate the primary key ${key.primaryArn}, not a replica`);
    }
    if (keySpecOf(key) !== 'SYMMETRIC_DEFAULT') {
      throw new KmsError(
        'UnsupportedOperationException',
        `${key.arn} is a ${keySpecOf(key)} key: only symmetric encryption keys can be rotated on demand`,
      );
    }
    const state = this.keys.stateOf(key);
    if (state === 'Disabled') throw new KmsError('DisabledException', `${key.arn} is disabled.`);
    if (state !== 'Enabled') throw invalidState(key.arn, state);
    const rotations = key.onDemandRotations ?? 0;
    if (rotations >= MAX_ON_DEMAND_ROTATIONS) {
      // KMS's text, as AWS answered LocalStack's recorded rotation-limit test.
      throw new KmsError(
        'LimitExceededException',
        `The on-demand rotations limit has been reached for the given keyId. No more on-demand rotations can be performed for this key: ${key.arn}`,
      );
    }
    const family = [key, ...this.keys.replicasOf(key)];
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
      const bytes = generateMaterial();
      newId = materialId(key.keyId, bytes);
      for (const k of family) {
        k.materials.push({
          keyMaterialId: newId,
          materialState: 'PENDING_ROTATION',
          importState: 'IMPORTED',
          material: bytes.toString('base64'),
        });
      }
    }
    for (const k of family) {
      this.keys.noteChange(k);
      for (const m of k.materials) {
        if (m.materialState === 'CURRENT') m.materialState = 'NON_CURRENT';
        if (m.keyMaterialId === newId) {
          Object.assign(m, { materialState: 'CURRENT', rotationDate: ctx.now, rotationType: 'ON_DEMAND' });
        }
      }
    }
    key.onDemandRotations = rotations + 1;
    return { KeyId: key.arn };
  }

  private listKeyRotations(body: Json, ctx: CallContext, record: CallRecord): Json {
    const key = this.keys.read('ListKeyRotations', body, ctx, record, false);
    const include = enumMember(body, 'IncludeKeyMaterial', ['ALL_KEY_MATERIAL', 'ROTATIONS_ONLY'], 'ROTATIONS_ONLY');
    const materials =
      include === 'ALL_KEY_MATERIAL' ? key.materials : key.materials.filter((m) => m.rotationDate !== undefined);
    const page = paginate(materials, body);
    return {
      Rotations: page.items.map((m) => ({
        KeyId: key.keyId,
        KeyMaterialId: m.keyMaterialId,
        ...(m.description !== undefined && { KeyMaterialDescription: m.description }),
        ...(key.origin === 'EXTERNAL' && { ImportState: m.importState }),
        ...(m.expirationModel !== undefined && { ExpirationModel: m.expirationModel }),
        KeyMaterialState: m.materialState,
        ...(m.validTo !== undefined && { ValidTo: seconds(m.validTo) }),
        ...(m.rotationDate !== undefined && { RotationDate: seconds(m.rotationDate), RotationType: m.rotationType }),
      })),
      ...pageMembers(page.next),
    };
  }

  private replicateKey(body: Json, ctx: CallContext, record: CallRecord): Json {
    const key = this.keys.change(body, ctx, record);
    if (!key.multiRegion || key.primaryArn) {
      throw new KmsError('UnsupportedOperationException', `${key.arn} is not a multi-Region primary key`);
    }
    this.keys.requireState(key, ['Enabled', 'Disabled', 'PendingImport']);
    const region = checkRegion(body.ReplicaRegion, 'replicaRegion');
    if (region === key.region) {
      throw new KmsError(
        'ValidationException',
        `The replica Region must differ from the primary key's Region ${region}`,
      );
    }
    const arn = keyArn(region, accountOf(key), key.keyId);
    if (this.keys.state.keys[arn]) throw new KmsError('AlreadyExistsException', `Replica ${arn} already exists`);
    const tags = mergeTags([], parseTags(body.Tags));
    const replica: KeyRecord = {
      ...structuredClone(key),
      arn,
      region,
      creationDate: ctx.now,
      primaryArn: key.arn,
      // A replica's description is its own: "" unless the request gives one (the primary's is not copied).
      description: optionalString(body, 'Description') ?? '',
      tags,
      // A replica of an imported key starts with no material: the same materials must be imported into it, each
      // with its own expiry.
      materials: key.materials.map((m) => {
        const copy = structuredClone(m);
        if (key.origin !== 'EXTERNAL') return copy;
        delete copy.material;
        delete copy.expirationModel;
        delete copy.validTo;
        return { ...copy, importState: 'PENDING_IMPORT' as const };
      }),
    };
    delete replica.lastUsage;
    delete replica.onDemandRotations;
    this.keys.state.keys[arn] = replica;
    // KMS answers while the replica is still being created, before it reports a current material.
    const metadata = this.keys.metadata(replica);
    delete metadata.CurrentKeyMaterialId;
    return {
      ReplicaKeyMetadata: { ...metadata, KeyState: 'Creating', Enabled: false },
      ReplicaPolicy: defaultKeyPolicy(accountOf(key)),
      ...(tags.length > 0 && { ReplicaTags: tags }),
    };
  }

  /**
   * Removes one material's bytes: permanent materials stay listed as PENDING_IMPORT, pending ones go. The deleted
   * material loses its ExpirationModel and ValidTo, as on AWS, unless the fault plan keeps them
   * (`keepExpiryOnDeletion`).
   */
  private drop(key: KeyRecord, material: MaterialRecord): void {
    if (isPendingRotation(material)) {
      key.materials = key.materials.filter((m) => m !== material);
      return;
    }
    material.importState = 'PENDING_IMPORT';
    delete material.material;
    if (!this.keys.faults.keepsExpiryOnDeletion) {
      delete material.expirationModel;
      delete material.validTo;
    }
  }
}
