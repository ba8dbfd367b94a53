/**
 * The emulator's persisted data model and the rules that derive a key's state from it.
 * Everything here is plain JSON: the state database keeps each key, alias and import token as JSON text.
 */
import { LOCAL_ACCOUNT_ID } from '../constants';
import type { WrappingAlgorithm } from '../../core/key-wrap';

export type KeyState =
  | 'Creating'
  | 'Enabled'
  | 'Disabled'
  | 'PendingDeletion'
  | 'PendingImport'
  | 'PendingReplicaDeletion'
  | 'Unavailable'
  | 'Updating';

/** States a fault file may pin a key to: the transitional ones no API call can hold a key in. */
export const PINNABLE_KEY_STATES = ['Creating', 'Updating', 'Unavailable'] as const;

export type MaterialState = 'CURRENT' | 'NON_CURRENT' | 'PENDING_ROTATION' | 'PENDING_MULTI_REGION_IMPORT_AND_ROTATION';
export type ImportState = 'IMPORTED' | 'PENDING_IMPORT';
export type ExpirationModel = 'KEY_MATERIAL_EXPIRES' | 'KEY_MATERIAL_DOES_NOT_EXPIRE';

export interface MaterialRecord {
  keyMaterialId: string;
  description?: string;
  materialState: MaterialState;
  importState: ImportState;
  /**
   * The material, base64 (256 bits for a symmetric key, the spec's size for an HMAC key); present only while
   * `importState` is IMPORTED.
   */
  material?: string;
  /** Unset for AWS_KMS-origin material. */
  expirationModel?: ExpirationModel;
  /** Epoch milliseconds. */
  validTo?: number;
  rotationDate?: number;
  rotationType?: 'AUTOMATIC' | 'ON_DEMAND';
}

/** The HMAC key specs and the one MAC algorithm each supports, as KMS pairs them. */
export const HMAC_KEY_SPECS = {
  HMAC_224: { algorithm: 'HMAC_SHA_224', hash: 'sha224', bytes: 28 },
  HMAC_256: { algorithm: 'HMAC_SHA_256', hash: 'sha256', bytes: 32 },
  HMAC_384: { algorithm: 'HMAC_SHA_384', hash: 'sha384', bytes: 48 },
  HMAC_512: { algorithm: 'HMAC_SHA_512', hash: 'sha512', bytes: 64 },
} as const;

export type HmacKeySpec = keyof typeof HMAC_KEY_SPECS;
export type KeySpec = 'SYMMETRIC_DEFAULT' | HmacKeySpec;

export const isHmacKeySpec = (value: unknown): value is HmacKeySpec =>
  typeof value === 'string' && Object.hasOwn(HMAC_KEY_SPECS, value);

export interface Tag {
  TagKey: string;
  TagValue: string;
}

export interface KeyRecord {
  keyId: string;
  arn: string;
  region: string;
  description: string;
  origin: 'EXTERNAL' | 'AWS_KMS';
  /** Epoch milliseconds. */
  creationDate: number;
  /** What EnableKey/DisableKey last asked for; the key state is derived from it and the materials. */
  enabled: boolean;
  /** Set while the key is PendingDeletion: when KMS deletes it. */
  deletionDate?: number;
  /**
   * The waiting period asked for by ScheduleKeyDeletion. Alone (no `deletionDate`) it marks a multi-Region primary
   * whose replicas still exist: PendingReplicaDeletion, with the waiting period not yet started.
   */
  pendingWindowInDays?: number;
  /** How many RotateKeyOnDemand calls the key has had (KMS allows a fixed number per key). @default 0 */
  onDemandRotations?: number;
  multiRegion: boolean;
  /** Set on replicas: the primary key's ARN. */
  primaryArn?: string;
  materials: MaterialRecord[];
  tags: Tag[];
  lastUsage?: { operation: KeyUse; timestamp: number; requestId: string };
  /** Unset on states written before HMAC keys existed: those keys are all symmetric. @default 'SYMMETRIC_DEFAULT' */
  keySpec?: KeySpec;
  /**
   * The key policy's grant of GenerateMac and VerifyMac: the access key ids allowed to use them, everyone else is
   * denied. @default anyone
   */
  macCallers?: string[];
  /**
   * The key policy document (PutKeyPolicy, or CreateKey's `Policy`), read by local/kms/key-policy.ts.
   * @default KMS's default policy: the account's root, leaving the decision to IAM
   */
  policy?: string;
}

/** The cryptographic operations GetKeyLastUsage reports. */
export type KeyUse = 'Encrypt' | 'Decrypt' | 'GenerateMac' | 'VerifyMac';

/** A key's spec; states written before HMAC keys existed hold only symmetric keys. */
export const keySpecOf = (key: KeyRecord): KeySpec => key.keySpec ?? 'SYMMETRIC_DEFAULT';

export interface AliasRecord {
  aliasName: string;
  /** Unset on states written before the local KMS kept several accounts: the local hub's. */
  account?: string;
  region: string;
  targetKeyId: string;
  creationDate: number;
}

export interface ImportTokenRecord {
  keyArn: string;
  privateKeyPem: string;
  wrappingAlgorithm: WrappingAlgorithm;
  expiresAt: number;
}

export interface KmsState {
  keys: Record<string, KeyRecord>;
  aliases: AliasRecord[];
  /** Keyed by the hex of the import token's bytes. */
  importTokens: Record<string, ImportTokenRecord>;
}

export const emptyKmsState = (): KmsState => ({ keys: {}, aliases: [], importTokens: {} });

/** Permanently associated materials: deleting or losing any of them makes the key unusable. */
export const isPermanent = (m: MaterialRecord): boolean =>
  m.materialState === 'CURRENT' || m.materialState === 'NON_CURRENT';

export const isPendingRotation = (m: MaterialRecord): boolean => !isPermanent(m);

export const keyArn = (region: string, account: string, keyId: string): string =>
  `arn:aws:kms:${region}:${account}:key/${keyId}`;

/** The account a key belongs to, as its ARN names it. */
export const accountOf = (key: KeyRecord): string => key.arn.split(':')[4] ?? LOCAL_ACCOUNT_ID;

/** The account an alias belongs to. */
export const aliasAccount = (alias: AliasRecord): string => alias.account ?? LOCAL_ACCOUNT_ID;

/** The key state KMS would report, derived from what was asked of the key and its materials. */
export function deriveKeyState(key: KeyRecord): KeyState {
  if (key.deletionDate !== undefined) return 'PendingDeletion';
  if (key.pendingWindowInDays !== undefined) return 'PendingReplicaDeletion';
  if (key.origin === 'EXTERNAL') {
    const permanent = key.materials.filter(isPermanent);
    if (permanent.length === 0 || permanent.some((m) => m.importState === 'PENDING_IMPORT')) return 'PendingImport';
  }
  return key.enabled ? 'Enabled' : 'Disabled';
}

export const currentMaterial = (key: KeyRecord): MaterialRecord | undefined =>
  key.materials.find((m) => m.materialState === 'CURRENT');
