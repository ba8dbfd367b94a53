/**
 * The wrapping keymat asks KMS for when it asks a custodian for a copy of the material: RSA_4096, with OAEP directly
 * or with an AES key wrap (for HSMs that export so). Names only, so that the IAM conditions built from them bring no
 * cryptography into the construct library (the CLI's wrapping takes each of them, which the
 * type checker holds it to).
 */
export const PROOF_WRAPPING_KEY_SPEC = 'RSA_4096' as const;
export const PROOF_WRAPPING_ALGORITHMS = ['RSAES_OAEP_SHA_256', 'RSA_AES_KEY_WRAP_SHA_256'] as const;
export type ProofWrappingAlgorithm = (typeof PROOF_WRAPPING_ALGORITHMS)[number];
