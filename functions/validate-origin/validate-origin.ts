import type { GetKeyLastUsageResponse } from '@aws-sdk/client-kms';
import { allPages, type KmsCall } from '../../core/aws-api';
import { MAX_START_AGE_MS, verifyStart, type Attestor } from '../../core/attestation';
import { changeEvent, type EventPublisher } from '../../core/change-events';
import { TICKET_CHECK_VERSION } from '../../core/change-ticket';
import type { ValidateOriginConfig } from '../../core/config';
import { KeymatError, RETRYABLE_KMS_ERRORS, errorName, hasErrorName } from '../../core/errors';
import { parseChangeInput } from '../../core/input';
import { buildPlan } from '../../core/plan';
import type { ChangeInput, Plan } from '../../core/types';
import { readKey } from '../runtime/aws';
import type { CalendarReader } from '../runtime/calendars';
import type { TicketCheck } from '../runtime/change-tickets';
import { startInvocation, type Logger } from '../runtime/logger';

/** What ValidateOrigin works with. */
export interface ValidateOriginDeps {
  kms: KmsCall;
  /** Verifies the start's attestation (VerifyMac with the attestation key). */
  attestor: Attestor;
  /** Publishes Deletion Planned. */
  events: EventPublisher;
  /** Reads the change calendars for the plan; used when the configuration names calendars. */
  calendars: CalendarReader;
  /** The organisation's change-ticket check; needed when the configuration names its function. */
  tickets?: TicketCheck;
  config: ValidateOriginConfig;
  logger: Logger;
}

/** ValidateOrigin's result: the parsed change and its plan. */
export interface ValidateOriginResult {
  input: ChangeInput;
  plan: Plan;
}

/**
 * ValidateOrigin: parses the change, checks the key is a customer-managed EXTERNAL key, and builds the plan. The
 * event is `{ executionId, input }`, with the raw execution input: a malformed one is refused as InvalidInput.
 */
export function createValidateOrigin({
  kms,
  attestor,
  events,
  calendars,
  tickets,
  config,
  logger,
}: ValidateOriginDeps): (event: unknown) => Promise<ValidateOriginResult> {
  if (config.changeTicketFunctionArn !== undefined && tickets === undefined) {
    throw new Error('ValidateOrigin: the configuration names a change-ticket check function but no check was given');
  }
  /** GetKeyLastUsage is advisory: when it cannot answer for a non-transient reason, the plan says "unknown". */
  async function lastUsage(keyArn: string): Promise<GetKeyLastUsageResponse | undefined> {
    try {
      return await kms('GetKeyLastUsage', { KeyId: keyArn });
    } catch (err) {
      if (hasErrorName(err, ...RETRYABLE_KMS_ERRORS)) throw err;
      logger.warn('GetKeyLastUsage failed; last use reported as unknown', { error: errorName(err) });
      return undefined;
    }
  }

  return async (event) => {
    const { executionId, input: rawInput } = eventFields(event);
    startInvocation(logger, { executionId: String(executionId) });
    const input = parseChangeInput(rawInput, config.scope, config.defaultWaitSeconds);
    logger.appendKeys({ changeId: input.changeId, keyId: input.keyId });
    // Only keymat's signers (the gateway for people, the scan for itself) can attest a start, and only a fresh
    // attestation counts: a raw StartExecution, whatever requester it names, or an old attested input started again,
    // ends here before the key is read.
    const startedAt = await verifyStart(attestor, String(executionId), rawInput as Record<string, unknown>, new Date());
    if (startedAt === undefined) {
      throw new KeymatError(
        'StartNotAttested',
        `the start of change ${input.changeId} is not attested by keymat for this execution and input, or was attested more than ${MAX_START_AGE_MS / 60_000} minutes ago (requestedBy ${input.requestedBy} is unproven); start changes with keymat start, the runbook or the scan`,
      );
    }
    input.startedAt = startedAt;

    const snapshot = await readKey(kms, input.keyId);
    const meta = snapshot.metadata;
    logger.appendKeys({ keyArn: meta.Arn });
    if (meta.Origin !== 'EXTERNAL') {
      throw new KeymatError(
        'OriginNotExternal',
        `key ${meta.Arn} has origin ${meta.Origin}; only keys with imported material (origin EXTERNAL) can have it deleted`,
      );
    }
    if (meta.KeyManager !== 'CUSTOMER') {
      throw new KeymatError(
        'KeyNotCustomerManaged',
        `key ${meta.Arn} is managed by ${meta.KeyManager}, not the customer`,
      );
    }
    const aliases: string[] = [];
    const keyArn = meta.Arn as string;
    const pages = allPages(
      (Marker) => kms('ListAliases', { KeyId: keyArn, Marker }),
      (page) => page.NextMarker,
    );
    for await (const page of pages) {
      aliases.push(...(page.Aliases ?? []).flatMap((a) => (a.AliasName === undefined ? [] : [a.AliasName])));
    }
    const plan = buildPlan(snapshot, aliases, await lastUsage(keyArn), input.keyMaterialId, {
      days: config.recentUseDays,
      now: new Date(),
    });
    if (tickets !== undefined) {
      // Before any approval is asked: a change the organisation has not approved never reaches an approver.
      plan.changeTicket = await tickets(
        {
          version: TICKET_CHECK_VERSION,
          changeId: input.changeId,
          keyArn,
          keyMaterialId: plan.keyMaterialId,
          requestedBy: input.requestedBy,
          reason: input.reason,
        },
        new Date(),
      );
    }
    if (config.changeCalendars.length > 0) plan.changeWindow = await calendars(config.changeCalendars, new Date());
    logger.info('plan built', { plan });
    await events.publish(
      changeEvent(
        'Deletion Planned',
        {
          executionArn: String(executionId),
          changeId: input.changeId,
          keyArn,
          keyMaterialId: plan.keyMaterialId,
          requestedBy: input.requestedBy,
          reason: input.reason,
          keyMaterialState: plan.keyMaterialState,
          keyStateBefore: plan.keyStateBefore,
          expectedKeyState: plan.expectedKeyState,
          replicasAffected: plan.multiRegion.replicasAffected,
          planDigest: plan.digest,
          dryRun: input.dryRun,
          ...(plan.changeTicket && { changeTicket: plan.changeTicket }),
          ...(plan.changeWindow && { changeWindow: plan.changeWindow }),
        },
        new Date(),
      ),
    );
    return { input, plan };
  };
}

/**
 * The event's two fields. The input is parsed by `parseChangeInput`, which names what is wrong with it; the event
 * around it is the state machine's own and is taken as it comes.
 */
function eventFields(event: unknown): { executionId: unknown; input: unknown } {
  if (typeof event !== 'object' || event === null) return { executionId: undefined, input: undefined };
  const fields = event as Record<string, unknown>;
  return { executionId: fields.executionId, input: fields.input };
}
