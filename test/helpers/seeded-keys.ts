import { randomBytes, randomUUID } from 'node:crypto';
import { saveMaterial, type CreatedKey } from '../../local/kms/byok';
import { materialId } from '../../local/kms/crypto';
import { emptyKmsState, keyArn, type KeyRecord } from '../../local/kms/model';
import { seedKmsState } from '../../local/state/store';
import { DEFAULT_REGION, LOCAL_ACCOUNT_ID } from '../../local/constants';

/** One seeded key: its material expires at `validTo` when given, as an import with that ValidTo makes it. */
export interface SeededKeyOptions {
  validTo?: Date;
  /** A multi-Region primary key (with no replicas), as CreateKey with MultiRegion makes it: its id is `mrk-…`. */
  multiRegion?: boolean;
  /** @default 'keymat local key', as `createExternalKey` describes its keys */
  description?: string;
}

/**
 * EXTERNAL keys with imported material written into a state folder before a stack serves it, each exactly as
 * CreateKey and ImportKeyMaterial leave it, its material kept under `materialDir` as `createExternalKey` keeps it.
 * For the suites that are not about importing: an import makes the local KMS generate an RSA wrapping key pair (costly
 * CPU each time), which the import suites prove; the others only need a key that has material.
 */
export function seedExternalKeys(
  stateDir: string,
  materialDir: string,
  keys: SeededKeyOptions[],
  now: number = Date.now(),
): CreatedKey[] {
  const state = emptyKmsState();
  const created = keys.map(({ validTo, multiRegion = false, description = 'keymat local key' }): CreatedKey => {
    const keyId = multiRegion ? `mrk-${randomBytes(16).toString('hex')}` : randomUUID();
    const material = randomBytes(32);
    const keyMaterialId = materialId(keyId, material);
    const record: KeyRecord = {
      keyId,
      arn: keyArn(DEFAULT_REGION, LOCAL_ACCOUNT_ID, keyId),
      region: DEFAULT_REGION,
      description,
      origin: 'EXTERNAL',
      creationDate: now,
      enabled: true,
      multiRegion,
      materials: [
        {
          keyMaterialId,
          materialState: 'CURRENT',
          importState: 'IMPORTED',
          material: material.toString('base64'),
          ...(validTo
            ? { expirationModel: 'KEY_MATERIAL_EXPIRES' as const, validTo: validTo.getTime() }
            : { expirationModel: 'KEY_MATERIAL_DOES_NOT_EXPIRE' as const }),
        },
      ],
      tags: [],
    };
    state.keys[record.arn] = record;
    return {
      keyArn: record.arn,
      keyId,
      keyMaterialId,
      materialFile: saveMaterial(materialDir, keyMaterialId, material),
    };
  });
  seedKmsState(stateDir, state);
  return created;
}

/**
 * A suite's supply of seeded keys: `next()` hands out a fresh one each time, and fails the test that asks for more
 * than were seeded (seed more).
 */
export function keySupply(keys: CreatedKey[]): { next: () => CreatedKey } {
  const left = [...keys];
  return {
    next: () => {
      const key = left.shift();
      if (!key) throw new Error(`all ${keys.length} seeded keys are used: seed more`);
      return key;
    },
  };
}
