import * as z from '../../core/schema';
import { WRAPPING_ALGORITHMS } from '../../core/key-wrap';
import {
  HMAC_KEY_SPECS,
  type AliasRecord,
  type ImportTokenRecord,
  type KeyRecord,
  type MaterialRecord,
} from '../kms/model';

/**
 * The shapes of the rows the state database holds, checked when a row is read: a row that does not fit is a damaged
 * state, never taken on trust. The KMS records' types are the emulator's model (local/kms/model.ts); these schemas are
 * typed against it, so the two cannot drift apart.
 */

/** One line of the local stack's request log. Never holds material, plaintext, ciphertext or tokens. */
export const requestLogEntrySchema = z.lazy(() =>
  z.object({
    time: z.string(),
    service: z.string(),
    region: z.string(),
    operation: z.string(),
    /** The key the call was about: its ARN when the emulator resolved it, else the KeyId as sent. */
    keyId: z.optional(z.string()),
    /** The KeyMaterialId a DeleteImportedKeyMaterial or ImportKeyMaterial call named (as CloudTrail records it). */
    keyMaterialId: z.optional(z.string()),
    status: z.number().check(z.int()),
    error: z.optional(z.string()),
    /** The caller's ARN: an IAM user, or a role session's assumed-role ARN (CloudTrail's `userIdentity.arn`). */
    caller: z.optional(z.string()),
    /** The account the call acted in. */
    account: z.optional(z.string()),
    /** The role session's SourceIdentity (CloudTrail's `sourceIdentity`), when its AssumeRole set one. */
    sourceIdentity: z.optional(z.string()),
    requestId: z.string(),
  }),
);

/** One line of the local stack's request log. */
export type RequestLogEntry = z.infer<typeof requestLogEntrySchema>;

/** One message published to the local SNS, as the outbox keeps it. */
export const outboxMessageSchema = z.lazy(() =>
  z.object({
    messageId: z.string().check(z.minLength(1)),
    time: z.string(),
    topicArn: z.string().check(z.minLength(1)),
    subject: z.optional(z.string()),
    message: z.string(),
    attributes: z.record(z.string(), z.string()),
  }),
);

/** One message published to the local SNS. */
export type OutboxMessage = z.infer<typeof outboxMessageSchema>;

/** One event put on the local EventBridge, as the events outbox keeps it (the fields of an EventBridge event). */
export const outboxEventSchema = z.lazy(() =>
  z.object({
    id: z.string().check(z.minLength(1)),
    time: z.string(),
    eventBusName: z.string(),
    source: z.string(),
    detailType: z.string(),
    resources: z.array(z.string()),
    detail: z.record(z.string(), z.unknown()),
  }),
);

/** One event put on the local EventBridge. */
export type OutboxEvent = z.infer<typeof outboxEventSchema>;

const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;
/** The sizes material may have: 256 bits for a symmetric key, each HMAC spec's own. */
const MATERIAL_BYTES = new Set<number>([32, ...Object.values(HMAC_KEY_SPECS).map((s) => s.bytes)]);

/** Key material (a secret): base64 of one of the sizes KMS keys take. */
const materialSecret = z.string().check(
  z.regex(BASE64, 'key material is not base64'),
  z.refine((s) => MATERIAL_BYTES.has(Buffer.from(s, 'base64').length), 'key material has a length no key spec takes'),
);

const materialSchema: z.ZodMiniType<MaterialRecord> = z.lazy(() =>
  z.object({
    keyMaterialId: z.string().check(z.minLength(1)),
    description: z.optional(z.string()),
    materialState: z.enum(['CURRENT', 'NON_CURRENT', 'PENDING_ROTATION', 'PENDING_MULTI_REGION_IMPORT_AND_ROTATION']),
    importState: z.enum(['IMPORTED', 'PENDING_IMPORT']),
    material: z.optional(materialSecret),
    expirationModel: z.optional(z.enum(['KEY_MATERIAL_EXPIRES', 'KEY_MATERIAL_DOES_NOT_EXPIRE'])),
    validTo: z.optional(z.number()),
    rotationDate: z.optional(z.number()),
    rotationType: z.optional(z.enum(['AUTOMATIC', 'ON_DEMAND'])),
  }),
);

const tagSchema = z.lazy(() => z.object({ TagKey: z.string(), TagValue: z.string() }));

/** A key as the state database keeps it. */
export const keyRecordSchema: z.ZodMiniType<KeyRecord> = z.lazy(() =>
  z.object({
    keyId: z.string().check(z.minLength(1)),
    arn: z.string().check(z.startsWith('arn:')),
    region: z.string().check(z.minLength(1)),
    description: z.string(),
    origin: z.enum(['EXTERNAL', 'AWS_KMS']),
    creationDate: z.number(),
    enabled: z.boolean(),
    deletionDate: z.optional(z.number()),
    pendingWindowInDays: z.optional(z.number()),
    onDemandRotations: z.optional(z.number().check(z.int(), z.nonnegative())),
    multiRegion: z.boolean(),
    primaryArn: z.optional(z.string()),
    materials: z.array(materialSchema),
    tags: z.array(tagSchema),
    lastUsage: z.optional(
      z.object({
        operation: z.enum(['Encrypt', 'Decrypt', 'GenerateMac', 'VerifyMac']),
        timestamp: z.number(),
        requestId: z.string(),
      }),
    ),
    keySpec: z.optional(
      z.enum(['SYMMETRIC_DEFAULT', ...(Object.keys(HMAC_KEY_SPECS) as (keyof typeof HMAC_KEY_SPECS)[])]),
    ),
    macCallers: z.optional(z.array(z.string())),
  }),
);

/** An alias as the state database keeps it. */
export const aliasRecordSchema: z.ZodMiniType<AliasRecord> = z.lazy(() =>
  z.object({
    aliasName: z.string().check(z.startsWith('alias/')),
    account: z.optional(z.string().check(z.regex(/^\d{12}$/))),
    region: z.string().check(z.minLength(1)),
    targetKeyId: z.string().check(z.minLength(1)),
    creationDate: z.number(),
  }),
);

/** An RSA private key in PKCS#8 PEM (a secret): the wrapping keys are 2048 to 4096 bits. */
const privateKeyPem = z
  .string()
  .check(
    z.regex(
      /^-----BEGIN PRIVATE KEY-----\n[A-Za-z0-9+/=\n]+-----END PRIVATE KEY-----\n?$/,
      'not a PKCS#8 PEM private key',
    ),
    z.minLength(1000, 'too short for an RSA wrapping key'),
    z.maxLength(4000, 'too long for an RSA wrapping key'),
  );

/** An import token's wrapping key pair, as the state database keeps it. */
export const importTokenRecordSchema: z.ZodMiniType<ImportTokenRecord> = z.lazy(() =>
  z.object({
    keyArn: z.string().check(z.startsWith('arn:')),
    privateKeyPem,
    wrappingAlgorithm: z.enum(WRAPPING_ALGORITHMS),
    expiresAt: z.number(),
  }),
);

/** One history event in GetExecutionHistory's shape. */
export const sfnEventSchema = z.lazy(() =>
  z.catchall(
    z.object({
      id: z.number().check(z.int()),
      previousEventId: z.number().check(z.int()),
      timestamp: z.number(),
      type: z.string(),
    }),
    z.unknown(),
  ),
);

/** A history event of a local execution. */
export type SfnEvent = z.infer<typeof sfnEventSchema>;

/** An execution of the local state machine as its row in the state database keeps it: all but its history. */
export const executionRowSchema = z.lazy(() =>
  z.object({
    executionArn: z.string().check(z.startsWith('arn:')),
    name: z.string().check(z.minLength(1)),
    stateMachineArn: z.string().check(z.startsWith('arn:')),
    input: z.string(),
    status: z.enum(['RUNNING', 'SUCCEEDED', 'FAILED', 'TIMED_OUT', 'ABORTED']),
    startDate: z.number(),
    stopDate: z.optional(z.number()),
    output: z.optional(z.string()),
    error: z.optional(z.string()),
    cause: z.optional(z.string()),
  }),
);

/** An execution's row in the state database. */
export type ExecutionRow = z.infer<typeof executionRowSchema>;

/** An execution of the local state machine with its history (one row per event in the state database). */
export type ExecutionRecord = ExecutionRow & { events: SfnEvent[] };
