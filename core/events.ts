import { z } from 'zod';
import { KeymatError } from './errors';
import type { ApprovalResult, ApprovalRules, ChangeInput, Plan } from './types';

/**
 * Schemas of what the state machine passes to each task, parsed at every handler's boundary. ValidateOrigin parses
 * the raw execution input itself (see input.ts); later tasks receive what earlier tasks produced.
 */
const changeInput: z.ZodType<ChangeInput> = z.object({
  keyId: z.string(),
  keyMaterialId: z.string().optional(),
  changeId: z.string(),
  reason: z.string(),
  requestedBy: z.string(),
  waitSeconds: z.number(),
  dryRun: z.boolean(),
});

const plan = z
  .object({
    keyArn: z.string(),
    keyMaterialId: z.string(),
    digest: z.string().regex(/^[a-f0-9]{64}$/),
    keyStateBefore: z.string(),
    expectedKeyState: z.string(),
  })
  .passthrough() as unknown as z.ZodType<Plan>;

const approval: z.ZodType<ApprovalResult> = z.object({
  planDigest: z.string(),
  approvals: z.array(
    z.object({ approver: z.string(), at: z.string(), channel: z.string(), comment: z.string().optional() }),
  ),
});

export const taskEvent = z.object({ executionId: z.string().min(1), input: changeInput, plan });
const rules: z.ZodType<ApprovalRules> = z.object({
  quorum: z.number().int().min(1),
  allowedApprovers: z.array(z.string()),
});

export const approvedTaskEvent = taskEvent.extend({ approval: z.unknown(), rules });

/**
 * The approval answer comes from outside the workflow (whoever may call SendTaskSuccess): a malformed one is refused
 * as ApprovalInvalid, naming the field.
 */
export function parseApproval(value: unknown): ApprovalResult {
  const parsed = approval.safeParse(value);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const path = ['approval', ...(issue?.path ?? [])].join('.');
    throw new KeymatError('ApprovalInvalid', `${path}: ${issue?.message}; nothing was deleted`);
  }
  return parsed.data;
}
export const requestApprovalEvent = taskEvent.extend({
  taskToken: z.string().min(1),
  approvalTimeoutSeconds: z.number().int().positive(),
  /** The approvals given in earlier rounds. */
  approval,
  rules,
});

/** Parses a task's event; a mismatch is a wiring bug, reported with the path that did not match. */
export function parseEvent<T>(schema: z.ZodType<T>, event: unknown, task: string): T {
  const parsed = schema.safeParse(event);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new Error(`${task} received an event it cannot use: ${issue?.path.join('.')}: ${issue?.message}`);
  }
  return parsed.data;
}
