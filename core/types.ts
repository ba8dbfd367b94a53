import { changeTicketSchema } from './change-ticket';
import { calendarReadingSchema, windowCheckSchema } from './change-window';
import { keyLocationSchema } from './organisation';
import * as z from './schema';

/**
 * The data that flows between the workflow's states, each shape defined once as a schema with its type inferred from
 * it. Every task receives and returns these shapes; events.ts builds each task's event from them.
 */

/**
 * How strongly a deployment or a change asks for the recovery proof (docs/recovery.md), weakest first. A change may
 * ask for more than its deployment, never for less (`effectiveRecoveryProof` in recovery.ts).
 */
export const RECOVERY_PROOF_MODES = ['off', 'offered', 'required'] as const;
export const recoveryProofModeSchema = z.enum(RECOVERY_PROOF_MODES);
export type RecoveryProofMode = z.infer<typeof recoveryProofModeSchema>;

/** The execution input after ValidateOrigin parsed it and applied defaults (input.ts parses the raw input). */
export const changeInputSchema = z.lazy(() =>
  z.object({
    keyId: z.string(),
    keyMaterialId: z.optional(z.string()),
    changeId: z.string(),
    reason: z.string(),
    requestedBy: z.string(),
    waitSeconds: z.number(),
    dryRun: z.boolean(),
    /**
     * A restore: the change imports the deleted material back, from a custodian's copy, instead of deleting it.
     * ValidateOrigin always sets it, so that the workflow's choices find it.
     */
    restore: z.optional(z.boolean()),
    /** The recovery proof this change asks for, when stricter than its deployment's. */
    recoveryProof: z.optional(recoveryProofModeSchema),
    /** A restore's expiry: the material comes back expiring at this instant (UTC, to the second). */
    validTo: z.optional(z.string()),
    /** When the start was attested, set by ValidateOrigin once it verified it: every approval is bound to it. */
    startedAt: z.optional(z.string()),
  }),
);
export type ChangeInput = z.infer<typeof changeInputSchema>;

/** A key material's state as ListKeyRotations reports it. */
export const materialStateSchema = z.enum([
  'CURRENT',
  'NON_CURRENT',
  'PENDING_ROTATION',
  'PENDING_MULTI_REGION_IMPORT_AND_ROTATION',
]);
export type MaterialState = z.infer<typeof materialStateSchema>;

/** What the deletion will do, computed once by ValidateOrigin and approved as a whole (through its digest). */
export const planSchema = z.lazy(() =>
  z.object({
    keyArn: z.string(),
    aliases: z.array(z.string()),
    origin: z.string(),
    currentKeyMaterialId: z.optional(z.string()),
    keyMaterialId: z.string(),
    keyMaterialState: materialStateSchema,
    importStateBefore: z.enum(['IMPORTED', 'PENDING_IMPORT']),
    materialValidTo: z.optional(z.string()),
    keyStateBefore: z.string(),
    /** The key state VerifyPendingImport must see afterwards. */
    expectedKeyState: z.string(),
    /**
     * Whether the material stays listed as PENDING_IMPORT (permanently associated) or disappears (pending rotation)
     * after a deletion; IMPORTED after a restore.
     */
    expectedMaterial: z.enum(['PENDING_IMPORT', 'REMOVED', 'IMPORTED']),
    /** The change imports the deleted material back (a restore) instead of deleting it. In the digest. */
    restore: z.optional(z.literal(true)),
    /**
     * A restore's expiry: the material comes back `KEY_MATERIAL_EXPIRES` at this instant (UTC, to the second).
     * Absent: it comes back `KEY_MATERIAL_DOES_NOT_EXPIRE`. In the digest when present.
     */
    validTo: z.optional(z.string()),
    alreadyDeleted: z.boolean(),
    multiRegion: z.object({
      role: z.enum(['PRIMARY', 'REPLICA', 'NONE']),
      replicas: z.array(z.string()),
      replicasAffected: z.array(z.string()),
    }),
    lastUsage: z.object({
      known: z.boolean(),
      operation: z.optional(z.string()),
      at: z.optional(z.string()),
      trackingStartDate: z.optional(z.string()),
    }),
    /** Where the key lives: account (id and name), OU path and Region. In the digest. */
    location: keyLocationSchema,
    /** The approval rules this change takes (the matching rule of the deployment's list, or its own). In the digest. */
    rules: approvalRulesSchema,
    /** The recovery proof this change runs with: the deployment's, or the change's own when stricter. In the digest. */
    recoveryProof: recoveryProofModeSchema,
    /** What an approver should weigh: an alias still pointing at a key about to become unusable, a recent use. */
    warnings: z.array(z.string()),
    /**
     * What the change-ticket check answered, when the deployment has one. Not a fact of the key: not in the digest.
     */
    changeTicket: z.optional(changeTicketSchema),
    /** The change calendars' state when the plan was made, when the deployment has calendars. Not in the digest. */
    changeWindow: z.optional(calendarReadingSchema),
    /** SHA-256 over the facts the approver approves; DeleteMaterial refuses when the key no longer matches it. */
    digest: z.string().check(z.regex(/^[a-f0-9]{64}$/, 'must be 64 lower-case hexadecimal characters (a SHA-256)')),
  }),
);
export type Plan = z.infer<typeof planSchema>;

/** One approver's decision. */
export const approvalSchema = z.lazy(() =>
  z.object({
    /** The canonical principal who approved (authenticated by the gateway or a signed link). */
    approver: z.string(),
    /** When it was given (ISO 8601, UTC). */
    at: z.iso.datetime(),
    channel: z.string(),
    comment: z.optional(z.string()),
    /**
     * The approver confirmed that the deletion may be irreversible: no recovery proof was given. Attested; required
     * of every approver of an unproven change whose proof was offered.
     */
    irreversible: z.optional(z.boolean()),
    /** The approval round it answered: 1 for the first. */
    round: z.number().check(z.int(), z.gte(1)),
    /** The attestation: a MAC over the decision's claims with the attestation key (base64). */
    mac: z.string().check(z.minLength(1)),
  }),
);
export type Approval = z.infer<typeof approvalSchema>;

/**
 * Who may approve and how many must. The deployment's own are fixed in the state machine definition; ValidateOrigin
 * puts the ones a change takes in its plan (`chooseRules` in organisation.ts), and every later step reads them there.
 */
export const approvalRulesSchema = z.lazy(() =>
  z.object({
    /** The approval rule (`approvalRuleSchema`) these come from; absent: the deployment's own quorum and approvers. */
    rule: z.optional(z.string()),
    /** Distinct approvers needed. */
    quorum: z.number().check(z.int(), z.gte(1)),
    /** When not empty, only these identities may approve. */
    allowedApprovers: z.array(z.string()),
  }),
);
export type ApprovalRules = z.infer<typeof approvalRulesSchema>;

/** What SendTaskSuccess returns to RequestApproval: the decisions and the plan digest they were made on. */
export const approvalResultSchema = z.lazy(() =>
  z.object({
    planDigest: z.string(),
    approvals: z.array(approvalSchema),
  }),
);
export type ApprovalResult = z.infer<typeof approvalResultSchema>;

/**
 * A proven recovery: who showed the material, when KMS took it, which material of which key. ProveRecovery puts it
 * in the state; the approvals are attested on its submission digest, and DeleteMaterial verifies both.
 */
export const recoveryProvenSchema = z.lazy(() =>
  z.object({
    keyArn: z.string(),
    keyMaterialId: z.string(),
    /** The canonical principal the gateway authenticated as the custodian. */
    provedBy: z.string(),
    /** When KMS took the copy (ISO 8601). */
    provedAt: z.string(),
    /** SHA-256 of the wrapped bytes KMS accepted (hex): names the submission without repeating it. */
    submissionDigest: z.string(),
    /** The gateway's attestation of the submission, which a later task verifies again. */
    attestation: z.object({ at: z.string(), channel: z.string(), mac: z.string() }),
  }),
);
export type RecoveryProven = z.infer<typeof recoveryProvenSchema>;

/** The recovery proof's place in the state: the proof, or nothing when none was asked or none came. */
export const recoveryStateSchema = z.lazy(() => z.object({ proof: z.optional(recoveryProvenSchema) }));
export type RecoveryState = z.infer<typeof recoveryStateSchema>;

/** What DeleteMaterial returns. */
export const deletionResultSchema = z.lazy(() =>
  z.object({
    /** KMS request id of the DeleteImportedKeyMaterial call, for CloudTrail; null when an earlier attempt applied it. */
    kmsRequestId: z.nullable(z.string()),
    appliedBy: z.enum(['THIS_ATTEMPT', 'EARLIER_ATTEMPT']),
    at: z.string(),
  }),
);
export type DeletionResult = z.infer<typeof deletionResultSchema>;

/** What RestoreMaterial returns: the ImportKeyMaterial call that brought the material back, and who gave the copy. */
export const restorationResultSchema = z.lazy(() =>
  z.object({
    /** KMS request id of the ImportKeyMaterial call, for CloudTrail; null when an earlier attempt applied it. */
    kmsRequestId: z.nullable(z.string()),
    appliedBy: z.enum(['THIS_ATTEMPT', 'EARLIER_ATTEMPT']),
    /** The canonical principal the gateway authenticated as the custodian who submitted the copy. */
    custodian: z.string(),
    /** SHA-256 of the wrapped copy (hex): names it without repeating it. */
    submissionDigest: z.string(),
    at: z.string(),
  }),
);
export type RestorationResult = z.infer<typeof restorationResultSchema>;

/** What VerifyPendingImport returns once the key shows the plan's post-state. */
export const verificationResultSchema = z.lazy(() =>
  z.object({
    keyStateAfter: z.string(),
    materialAfter: z.enum(['PENDING_IMPORT', 'REMOVED', 'IMPORTED']),
    verifiedAt: z.string(),
  }),
);
export type VerificationResult = z.infer<typeof verificationResultSchema>;

/** CheckState's decision: go on to the approval, or verify a deletion that already happened. */
export const checkDecisionSchema = z.enum(['PROCEED', 'ALREADY_DELETED']);
export type CheckDecision = z.infer<typeof checkDecisionSchema>;

/** CheckState's word on the recovery proof: ask the custodians for it, or not (off, or nothing to recover). */
export const proofDecisionSchema = z.enum(['ASK', 'NOT_ASKED']);
export type ProofDecision = z.infer<typeof proofDecisionSchema>;

/** The error a Catch puts in the state (`ResultPath: $.error`). */
export const caughtErrorSchema = z.lazy(() => z.object({ Error: z.string(), Cause: z.optional(z.string()) }));

/**
 * The state machine's data as it reaches NotifyOutcome. Any path may end there, after any failure, so every part is
 * optional and a part that does not parse (a malformed approval answer that DeleteMaterial refused) is left out
 * rather than failing the outcome: the outcome message must go out whatever happened before.
 */
export const workflowStateSchema = z.lazy(() =>
  z.object({
    /** Missing when ValidateOrigin refused the input. */
    input: z.catch(z.optional(changeInputSchema), undefined),
    plan: z.catch(z.optional(planSchema), undefined),
    check: z.catch(z.optional(z.object({ decision: checkDecisionSchema })), undefined),
    recovery: z.catch(z.optional(recoveryStateSchema), undefined),
    approval: z.catch(z.optional(approvalResultSchema), undefined),
    changeWindow: z.catch(z.optional(windowCheckSchema), undefined),
    deletion: z.catch(z.optional(deletionResultSchema), undefined),
    restoration: z.catch(z.optional(restorationResultSchema), undefined),
    verification: z.catch(z.optional(verificationResultSchema), undefined),
    error: z.optional(caughtErrorSchema),
  }),
);
export type WorkflowState = z.infer<typeof workflowStateSchema>;

/** How a change ended, in one word (the outcome message's `status` attribute). */
export const outcomeStatusSchema = z.enum([
  'DELETED',
  'ALREADY_DELETED',
  'RESTORED',
  'PLANNED',
  'REJECTED',
  'TIMED_OUT',
  'REFUSED',
  'FAILED',
]);
export type OutcomeStatus = z.infer<typeof outcomeStatusSchema>;

/** The execution's output (and the outcome message's body). */
export const outcomeSchema = z.lazy(() =>
  z.object({
    status: outcomeStatusSchema,
    changeId: z.optional(z.string()),
    keyArn: z.optional(z.string()),
    keyMaterialId: z.optional(z.string()),
    keyStateBefore: z.optional(z.string()),
    keyStateAfter: z.optional(z.string()),
    /** Where the key lives, as the plan named it. */
    location: z.optional(keyLocationSchema),
    /** The approval rules the change was held to, as the plan named them. */
    rules: z.optional(approvalRulesSchema),
    /** The recovery proof the approvals were given on, when one was made: who, when, which material, which copy. */
    recovery: z.optional(
      z.object({ provedBy: z.string(), provedAt: z.string(), keyMaterialId: z.string(), submissionDigest: z.string() }),
    ),
    /**
     * The approvals DeleteMaterial verified before it deleted (or found deleted) the material, or RestoreMaterial before
     * it imported it back.
     */
    approvals: z.array(approvalSchema),
    /** The approvals of an answer DeleteMaterial refused as ApprovalInvalid (the cause says which and why). */
    refusedApprovals: z.optional(z.array(approvalSchema)),
    kmsRequestId: z.nullable(z.string()),
    /** After a deletion: the command that starts the change bringing the material back. */
    restoreCommand: z.optional(z.string()),
    /** After a restore with an expiry: when the restored material expires again (ISO 8601). */
    validTo: z.optional(z.string()),
    error: z.optional(z.string()),
    cause: z.optional(z.string()),
  }),
);
export type Outcome = z.infer<typeof outcomeSchema>;
