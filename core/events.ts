import * as z from './schema';
import { windowCheckSchema } from './change-window';
import { KeymatError } from './errors';
import { importParametersSchema } from './recovery';
import {
  approvalResultSchema,
  changeInputSchema,
  planSchema,
  recoveryStateSchema,
  workflowStateSchema,
  type ApprovalResult,
} from './types';

/**
 * Schemas of what the state machine passes to each task, parsed at every handler's boundary, built from the shapes
 * in types.ts. ValidateOrigin parses the raw execution input itself (see input.ts); later tasks receive what earlier
 * tasks produced.
 */

/** The fields of every task's event after ValidateOrigin: the change and its plan. */
const taskEventShape = () => ({
  executionId: z.string().check(z.minLength(1)),
  input: changeInputSchema,
  plan: planSchema,
});

/** CheckState's and VerifyPendingImport's event: the change and its plan. */
export const taskEvent = z.lazy(() => z.object(taskEventShape()));
export type TaskEvent = z.infer<typeof taskEvent>;

/**
 * DeleteMaterial's event, with the execution's start (every approval must be dated after it). The approval is left
 * unparsed here: it comes from outside the workflow, and `parseApproval` refuses a malformed one as ApprovalInvalid
 * rather than as a wiring bug.
 */
export const approvedTaskEvent = z.lazy(() =>
  z.object({
    ...taskEventShape(),
    approval: z.unknown(),
    /** The recovery proof, from the state: its attestation is verified again before anything is deleted. */
    recovery: recoveryStateSchema,
    executionStartTime: z.iso.datetime({ offset: true }),
  }),
);
export type ApprovedTaskEvent = z.infer<typeof approvedTaskEvent>;

/**
 * RestoreMaterial's event: an approved restore, with the custodian's submission that AwaitRecoveryProof received.
 * Both come from outside the workflow, so both are left unparsed here: the task refuses a malformed approval as
 * ApprovalInvalid and a malformed or unattested submission as RecoveryNotProven.
 */
export const restoreMaterialEvent = z.lazy(() =>
  z.object({
    ...taskEventShape(),
    approval: z.unknown(),
    submission: z.unknown(),
    /** The import parameters GetImportParameters put into the state: the submission must carry their token. */
    importParameters: importParametersSchema,
    executionStartTime: z.iso.datetime({ offset: true }),
  }),
);

/**
 * CheckChangeWindow's event: the workflow's state, of which it reads the change, its plan and its own last check
 * (absent at the first check). The state's approval answer is not read: nothing has verified it yet.
 */
export const checkChangeWindowEvent = z.lazy(() =>
  z.object({
    executionId: z.string().check(z.minLength(1)),
    state: z.object({ input: changeInputSchema, plan: planSchema, changeWindow: z.optional(windowCheckSchema) }),
  }),
);

/**
 * WaitForChangeWindow's event: CheckChangeWindow's, with the token the hold waits on (a rejection of the held change
 * answers it), and the state's recovery proof, approvals and last check, which the hold always has.
 */
export const windowHoldEvent = z.lazy(() =>
  z.object({
    executionId: z.string().check(z.minLength(1)),
    taskToken: z.string().check(z.minLength(1)),
    state: z.object({
      input: changeInputSchema,
      plan: planSchema,
      recovery: recoveryStateSchema,
      approval: approvalResultSchema,
      changeWindow: windowCheckSchema,
    }),
  }),
);

/** RequestApproval's event: the change, the task token to answer on, and the approvals given in earlier rounds (the plan names the approval rules). */
export const requestApprovalEvent = z.lazy(() =>
  z.object({
    ...taskEventShape(),
    taskToken: z.string().check(z.minLength(1)),
    approvalTimeoutSeconds: z.number().check(z.int(), z.positive()),
    /** The approvals given in earlier rounds. */
    approval: approvalResultSchema,
    /** The recovery proof, or none: the request's first line, and what the approvals are bound to. */
    recovery: recoveryStateSchema,
  }),
);

/**
 * AwaitRecoveryProof's event: the change, the task token the custodian's submission answers, and how long the
 * workflow waits for it.
 */
export const awaitRecoveryProofEvent = z.lazy(() =>
  z.object({
    ...taskEventShape(),
    importParameters: importParametersSchema,
    taskToken: z.string().check(z.minLength(1)),
    proofTimeoutSeconds: z.number().check(z.int(), z.positive()),
  }),
);
export type AwaitRecoveryProofEvent = z.infer<typeof awaitRecoveryProofEvent>;
export type RequestApprovalEvent = z.infer<typeof requestApprovalEvent>;

/** NotifyOutcome's event: the state as it reached the outcome, and the raw execution input for a refused input. */
export const notifyOutcomeEvent = z.lazy(() =>
  z.object({
    executionId: z.string().check(z.minLength(1)),
    state: workflowStateSchema,
    executionInput: z.unknown(),
  }),
);
export type NotifyOutcomeEvent = z.infer<typeof notifyOutcomeEvent>;

/**
 * The approval answer comes from outside the workflow (whoever may call SendTaskSuccess): a malformed one is refused
 * as ApprovalInvalid, naming the field.
 */
export function parseApproval(value: unknown): ApprovalResult {
  const parsed = approvalResultSchema.safeParse(value);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const path = ['approval', ...(issue?.path ?? [])].join('.');
    throw new KeymatError('ApprovalInvalid', `${path}: ${issue?.message}; nothing was deleted`);
  }
  return parsed.data;
}

/** Parses a task's event; a mismatch is a wiring bug, reported with the path that did not match. */
export function parseEvent<T>(schema: z.ZodMiniType<T>, event: unknown, task: string): T {
  const parsed = schema.safeParse(event);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new Error(
      `${task} received an event it cannot use: ${issue?.path.join('.')}: ${issue?.message}; the state machine's parameters for ${task} do not match its handler (deploy them together)`,
    );
  }
  return parsed.data;
}
