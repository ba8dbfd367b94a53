import {
  CreateKeyCommand,
  GetParametersForImportCommand,
  ImportKeyMaterialCommand,
  type ImportType,
  KMSClient,
} from '@aws-sdk/client-kms';
import { randomBytes } from 'node:crypto';
import { closeSync, fsyncSync, mkdirSync, openSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { wrapKeyMaterial, type WrappingAlgorithm } from '../../core/key-wrap';
import { errorMessage } from '../../core/errors';
import { localClientConfig } from '../services/clients';
import { LocalStateError } from '../state/store';
import { DEFAULT_REGION, LOCAL_ACCOUNT_ID, localCredentialsFor } from '../constants';

/**
 * The customer's side of "bring your own key": make material, wrap it with KMS's public key and import it, through
 * the real SDK, the way a user does it against KMS. Used by `keymat local kms create-key`, the demo and tests.
 */
export interface ImportOptions {
  importType?: ImportType;
  validTo?: Date;
  description?: string;
  wrappingAlgorithm?: WrappingAlgorithm;
  wrappingKeySpec?: 'RSA_2048' | 'RSA_3072' | 'RSA_4096';
}

export const newKeyMaterial = (): Buffer => randomBytes(32);

export async function importKeyMaterial(
  kms: KMSClient,
  keyId: string,
  material: Buffer,
  options: ImportOptions = {},
): Promise<{ keyArn: string; keyMaterialId: string }> {
  const wrappingAlgorithm = options.wrappingAlgorithm ?? 'RSAES_OAEP_SHA_256';
  const params = await kms.send(
    new GetParametersForImportCommand({
      KeyId: keyId,
      WrappingAlgorithm: wrappingAlgorithm,
      WrappingKeySpec: options.wrappingKeySpec ?? 'RSA_2048',
    }),
  );
  const encrypted = wrapKeyMaterial(params.PublicKey as Uint8Array, material, wrappingAlgorithm);
  const result = await kms.send(
    new ImportKeyMaterialCommand({
      KeyId: keyId,
      ImportToken: params.ImportToken,
      EncryptedKeyMaterial: encrypted,
      ...(options.validTo
        ? { ExpirationModel: 'KEY_MATERIAL_EXPIRES', ValidTo: options.validTo }
        : { ExpirationModel: 'KEY_MATERIAL_DOES_NOT_EXPIRE' }),
      ...(options.importType && { ImportType: options.importType }),
      ...(options.description && { KeyMaterialDescription: options.description }),
    }),
  );
  return { keyArn: result.KeyId as string, keyMaterialId: result.KeyMaterialId as string };
}

export interface CreatedKey {
  keyArn: string;
  keyId: string;
  keyMaterialId?: string;
  /** Where the material was kept, for reimport (the customer's copy of its own key). */
  materialFile?: string;
}

/**
 * Creates an EXTERNAL key and, unless `withMaterial` is false, imports fresh material kept under `materialDir`. The
 * copy is saved (and synced) before the import, as `<keyId>.pending.bin`, and renamed to `<keyMaterialId>.bin` once
 * KMS names the material: a save that fails leaves a key without material, never one whose material nobody holds.
 */
export async function createExternalKey(
  kms: KMSClient,
  options: { description?: string; multiRegion?: boolean; validTo?: Date; withMaterial?: boolean; materialDir: string },
): Promise<CreatedKey> {
  const created = await kms.send(
    new CreateKeyCommand({
      Origin: 'EXTERNAL',
      Description: options.description ?? 'keymat local key',
      MultiRegion: options.multiRegion ?? false,
    }),
  );
  const meta = created.KeyMetadata as { KeyId: string; Arn: string };
  if (options.withMaterial === false) return { keyArn: meta.Arn, keyId: meta.KeyId };
  const material = newKeyMaterial();
  let pending: string;
  try {
    pending = saveMaterial(options.materialDir, `${meta.KeyId}.pending`, material);
  } catch (err) {
    throw new LocalStateError(
      `could not save the key material's copy in ${options.materialDir} (${errorMessage(err)}), so none was imported: key ${meta.Arn} is left without material (PendingImport)`,
      { cause: err },
    );
  }
  const { keyMaterialId } = await importKeyMaterial(kms, meta.KeyId, material, { validTo: options.validTo });
  const materialFile = join(options.materialDir, `${keyMaterialId}.bin`);
  renameSync(pending, materialFile);
  return { keyArn: meta.Arn, keyId: meta.KeyId, keyMaterialId, materialFile };
}

/** Writes `material` to `<dir>/<name>.bin` (mode 0600) and syncs it to the disk; returns the file. */
export function saveMaterial(dir: string, name: string, material: Buffer): string {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const file = join(dir, `${name}.bin`);
  const fd = openSync(file, 'w', 0o600);
  try {
    writeFileSync(fd, material);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  return file;
}

export const loadMaterial = (file: string): Buffer => readFileSync(file);

/**
 * The SDK's KMS client on the local stack at `endpoint`, as the public local user of `account`, for the functions
 * above: they send operations keymat's tasks never call (CreateKey, GetParametersForImport, ImportKeyMaterial), so they
 * use the SDK's client directly rather than the port.
 *
 * @param region - @default the local stack's Region
 * @param account - The account whose keys the client acts on. @default the local hub account
 */
export const localKmsClient = (
  endpoint: string,
  region: string = DEFAULT_REGION,
  account: string = LOCAL_ACCOUNT_ID,
): KMSClient => new KMSClient(localClientConfig(endpoint, region, localCredentialsFor(account)));
