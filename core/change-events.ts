import { EVENT_SOURCE } from './naming';
import { createHash } from 'node:crypto';
import { roundAfter } from './approvals';
import { calendarReadingSchema } from './change-window';
import { changeTicketSchema } from './change-ticket';
import { keyLocationSchema } from './organisation';
import * as z from './schema';
import { approvalRulesSchema, recoveryProofModeSchema, type Approval } from './types';

/**
 * The structured events every change publishes to EventBridge (source `keymat`), for security monitoring and change
 * records: one schema per detail type, defined once here; the build writes each as a JSON Schema into
 * schemas/events/. Every detail carries the schema `version`, an `eventId` that is the same each time the same event
 * is published (a retried task publishes again: consumers deduplicate on it), the execution and the change. No
 * detail carries a task token, an attestation, a link or a secret.
 */

/** The detail schemas' version; a change that removes or retypes a field makes a new one. */
export const EVENT_VERSION = '1';

const common = () => ({
  version: z.literal(EVENT_VERSION),
  eventId: z.string().check(z.regex(/^[a-f0-9]{32}$/)),
  executionArn: z.string(),
  changeId: z.string(),
  /** When it happened (ISO 8601); EventBridge's own `time` is when it was put. */
  occurredAt: z.iso.datetime(),
});

const keyFields = () => ({ keyArn: z.string(), keyMaterialId: z.string() });

const decisionFields = () => ({
  round: z.number().check(z.int(), z.gte(1)),
  /** Who decided, as keymat authenticated them (a canonical principal). */
  decidedBy: z.string(),
  channel: z.string(),
  comment: z.optional(z.string()),
});

/** Each detail type and its detail's schema. */
export const EVENT_DETAILS = {
  'Deletion Planned': z.lazy(() =>
    z.object({
      ...common(),
      ...keyFields(),
      requestedBy: z.string(),
      reason: z.string(),
      keyMaterialState: z.string(),
      keyStateBefore: z.string(),
      expectedKeyState: z.string(),
      replicasAffected: z.array(z.string()),
      /** Where the key lives: account (id and name), OU path and Region. */
      location: keyLocationSchema,
      /** The approval rules the change takes. */
      rules: approvalRulesSchema,
      /** The recovery proof the change runs with (docs/recovery.md). */
      recoveryProof: z.optional(recoveryProofModeSchema),
      planDigest: z.string(),
      dryRun: z.boolean(),
      changeTicket: z.optional(changeTicketSchema),
      changeWindow: z.optional(calendarReadingSchema),
    }),
  ),
  'Approval Requested': z.lazy(() =>
    z.object({
      ...common(),
      ...keyFields(),
      round: z.number().check(z.int(), z.gte(1)),
      quorum: z.number().check(z.int(), z.gte(1)),
      approvedBy: z.array(z.string()),
      expiresAt: z.string(),
      planDigest: z.string(),
    }),
  ),
  'Approval Decided': z.lazy(() =>
    z.union([
      z.object({
        ...common(),
        decision: z.literal('APPROVED'),
        ...decisionFields(),
        planDigest: z.string(),
        /** The approver confirmed that the unproven deletion may be irreversible. */
        irreversible: z.optional(z.boolean()),
      }),
      z.object({
        ...common(),
        decision: z.literal('REJECTED'),
        ...decisionFields(),
        /** An approver's rejection, or the requester withdrawing the change. */
        as: z.enum(['APPROVER', 'REQUESTER']),
      }),
    ]),
  ),
  'Deletion Announced': z.lazy(() =>
    z.object({
      ...common(),
      ...keyFields(),
      requestedBy: z.string(),
      approvedBy: z.array(z.string()),
      planDigest: z.string(),
    }),
  ),
  'Key Material Deleted': z.lazy(() =>
    z.object({
      ...common(),
      ...keyFields(),
      /** The DeleteImportedKeyMaterial request's id (CloudTrail's `requestID`); null when an earlier attempt applied it. */
      kmsRequestId: z.nullable(z.string()),
      appliedBy: z.enum(['THIS_ATTEMPT', 'EARLIER_ATTEMPT']),
      expectedKeyState: z.string(),
      /** The command that starts the change bringing the material back; absent for a pending-rotation material. */
      restoreCommand: z.optional(z.string()),
    }),
  ),
  'Key Material Restored': z.lazy(() =>
    z.object({
      ...common(),
      ...keyFields(),
      requestedBy: z.string(),
      /** The approvers RestoreMaterial verified, as keymat authenticated them. */
      approvedBy: z.array(z.string()),
      /** Who submitted the copy, as the gateway authenticated them. */
      custodian: z.string(),
      /** SHA-256 of the wrapped copy (hex). */
      submissionDigest: z.string(),
      /** The ImportKeyMaterial request's id (CloudTrail's `requestID`); null when an earlier attempt applied it. */
      kmsRequestId: z.nullable(z.string()),
      /** The key state VerifyPendingImport saw once the material was back. */
      keyStateAfter: z.string(),
      /** When the restored material expires again, as approved (ISO 8601); absent: it does not expire. */
      validTo: z.optional(z.string()),
    }),
  ),
  'Change Failed': z.lazy(() =>
    z.object({
      ...common(),
      /** Missing when the input named no valid change id. */
      changeId: z.optional(z.string()),
      keyArn: z.optional(z.string()),
      keyMaterialId: z.optional(z.string()),
      status: z.enum(['REJECTED', 'TIMED_OUT', 'REFUSED', 'FAILED']),
      error: z.string(),
      cause: z.optional(z.string()),
    }),
  ),
  'Scan Completed': z.lazy(() =>
    z.object({
      version: z.literal(EVENT_VERSION),
      eventId: z.string().check(z.regex(/^[a-f0-9]{32}$/)),
      /** The fleet scan's own execution (a scan is no change, so it carries no change id). */
      executionArn: z.string(),
      occurredAt: z.iso.datetime(),
      dryRun: z.boolean(),
      /** Account × Region items the run was given, and those whose child completed. */
      itemsTotal: z.number().check(z.int(), z.gte(0)),
      itemsScanned: z.number().check(z.int(), z.gte(0)),
      accountsScanned: z.number().check(z.int(), z.gte(0)),
      keysListed: z.number().check(z.int(), z.gte(0)),
      externalKeys: z.number().check(z.int(), z.gte(0)),
      violations: z.number().check(z.int(), z.gte(0)),
      changesStarted: z.number().check(z.int(), z.gte(0)),
      /** Each item whose child failed, with the error's name and the cause a person can act on. */
      failed: z.array(
        z.object({ account: z.string(), region: z.string(), error: z.string(), cause: z.optional(z.string()) }),
      ),
    }),
  ),
} as const;

export type EventDetailType = keyof typeof EVENT_DETAILS;
export const EVENT_DETAIL_TYPES = Object.keys(EVENT_DETAILS) as EventDetailType[];

/** The file of a detail type's JSON Schema in schemas/events/: `Key Material Deleted` → `key-material-deleted.json`. */
export const eventSchemaFile = (detailType: EventDetailType): string =>
  `${detailType.toLowerCase().replace(/ /g, '-')}.json`;

/** A detail type's JSON Schema (draft 2020-12), as schemas/events/ keeps it. */
export function eventJsonSchema(detailType: EventDetailType): Record<string, unknown> {
  return {
    ...z.toJSONSchema(EVENT_DETAILS[detailType]),
    $id: `urn:keymat:events:${eventSchemaFile(detailType).replace(/\.json$/, '')}:v${EVENT_VERSION}`,
    title: `keymat ${detailType}`,
    description: `The detail of a keymat "${detailType}" event (source ${EVENT_SOURCE}), version ${EVENT_VERSION}.`,
  };
}

/** One event: its detail type and its detail. */
export type ChangeEvent = {
  [T in EventDetailType]: { detailType: T; detail: z.infer<(typeof EVENT_DETAILS)[T]> };
}[EventDetailType];

/** A detail without the fields every event gets from `changeEvent`. */
type DetailOf<T extends EventDetailType> = z.infer<(typeof EVENT_DETAILS)[T]>;
type Own<T extends EventDetailType> =
  DetailOf<T> extends infer D ? (D extends unknown ? Omit<D, 'version' | 'eventId' | 'occurredAt'> : never) : never;

/**
 * Makes an event, checked against its schema. `discriminator` tells apart events of one type in one execution (for a
 * decision: its round, approver and decision); the event id is derived from it, so the same event published twice carries the same id.
 *
 * @throws Error when the detail does not fit its schema (a bug: the callers build it from parsed data)
 */
export function changeEvent<T extends EventDetailType>(
  detailType: T,
  detail: Own<T> & { executionArn: string },
  occurredAt: Date,
  discriminator = '',
): ChangeEvent {
  const eventId = createHash('sha256')
    .update(`${detail.executionArn}\n${detailType}\n${discriminator}`)
    .digest('hex')
    .slice(0, 32);
  const full = { version: EVENT_VERSION, eventId, ...detail, occurredAt: occurredAt.toISOString() };
  return { detailType, detail: EVENT_DETAILS[detailType].parse(full) } as ChangeEvent;
}

/** Publishes events in order; the functions' one puts them on the configured EventBridge bus. */
export interface EventPublisher {
  publish(...events: ChangeEvent[]): Promise<void>;
}

/** The approval round a decision answers: the change, its plan and the approvals given before. */
export interface AskedRound {
  input: { changeId: string };
  plan: { digest: string };
  approval: { approvals: readonly Approval[] };
}

/**
 * Approval Decided, published by whoever hands a decision to the workflow (the gateway, the approval page, the
 * local runner), once Step Functions took it: an answer that lost a race to another answer, or came after the round
 * timed out, never appears as a decision. `at` is when the decision was made (an approval's attested time).
 *
 * The event id is derived from the execution, the round, the approver (in canonical form, case ignored as IAM
 * ignores it) and the decision: the same decision published again keeps its id, and no two different decisions can
 * share one, so deduplicating on it never drops a decision that took effect.
 */
export function approvalDecided(
  executionArn: string,
  asked: AskedRound,
  decision: { by: string; channel: string; comment?: string } & (
    { decision: 'APPROVED'; irreversible?: boolean } | { decision: 'REJECTED'; as: 'APPROVER' | 'REQUESTER' }
  ),
  at: Date,
): ChangeEvent {
  const round = roundAfter(asked.approval.approvals);
  const common = {
    executionArn,
    changeId: asked.input.changeId,
    round,
    decidedBy: decision.by,
    channel: decision.channel,
    ...(decision.comment !== undefined && { comment: decision.comment }),
  };
  const discriminator = `${round}\n${decision.by.toLowerCase()}\n${decision.decision}`;
  return decision.decision === 'APPROVED'
    ? changeEvent(
        'Approval Decided',
        {
          ...common,
          decision: 'APPROVED',
          planDigest: asked.plan.digest,
          ...(decision.irreversible && { irreversible: true }),
        },
        at,
        discriminator,
      )
    : changeEvent('Approval Decided', { ...common, decision: 'REJECTED', as: decision.as }, at, discriminator);
}
