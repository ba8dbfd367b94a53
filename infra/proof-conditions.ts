import { PROOF_WRAPPING_ALGORITHMS, PROOF_WRAPPING_KEY_SPEC } from '../core/recovery';

/**
 * The IAM conditions that pin the recovery proof's two KMS operations to what a proof does (docs/recovery.md): import
 * parameters only with the wrapping keymat asks for, a reimport only with one of the two expiration models, both only
 * on keys with imported material. The condition keys are KMS's
 * (https://docs.aws.amazon.com/service-authorization/latest/reference/list_awskeymanagementservice.html). `ValidTo`
 * cannot be pinned to each material's own (kms:ValidTo compares with a fixed time): the task checks it.
 */
export const PROOF_CONDITIONS: Readonly<Record<string, Record<string, string | string[]>>> = {
  GetParametersForImport: {
    'kms:KeyOrigin': 'EXTERNAL',
    'kms:WrappingKeySpec': PROOF_WRAPPING_KEY_SPEC,
    'kms:WrappingAlgorithm': [...PROOF_WRAPPING_ALGORITHMS],
  },
  ImportKeyMaterial: {
    'kms:KeyOrigin': 'EXTERNAL',
    'kms:ExpirationModel': ['KEY_MATERIAL_EXPIRES', 'KEY_MATERIAL_DOES_NOT_EXPIRE'],
  },
};
