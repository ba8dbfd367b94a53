import { randomBytes, randomUUID } from 'node:crypto';
import { materialId } from '../local/kms/crypto';
import { keyArn, type KeyRecord } from '../local/kms/model';

/**
 * A key as the benchmarks write it straight into the local KMS's state (creating thousands through the API would
 * outlast what is measured): one CURRENT imported material, expiring at `validTo` when given.
 */
export function benchKey(region: string, account: string, origin: 'EXTERNAL' | 'AWS_KMS', validTo?: number): KeyRecord {
  const keyId = randomUUID();
  const material = randomBytes(32);
  return {
    keyId,
    arn: keyArn(region, account, keyId),
    region,
    description: 'bench',
    origin,
    creationDate: Date.now(),
    enabled: true,
    multiRegion: false,
    materials: [
      {
        keyMaterialId: materialId(keyId, material),
        materialState: 'CURRENT',
        importState: 'IMPORTED',
        material: material.toString('base64'),
        ...(validTo !== undefined && { expirationModel: 'KEY_MATERIAL_EXPIRES' as const, validTo }),
      },
    ],
    tags: [],
  };
}
