import type { GetKeyLastUsageResponse } from '@aws-sdk/client-kms';
import { allPages, type KmsCall, type OrganizationsCall } from '../../core/aws-api';
import { chooseRules } from '../../core/approvals';
import { MAX_START_AGE_MS, verifyStart, type Attestor } from '../../core/attestation';
import { changeEvent, type EventPublisher } from '../../core/change-events';
import { TICKET_CHECK_VERSION } from '../../core/change-ticket';
import type { ValidateOriginConfig } from '../../core/config';
import { KeymatError, RETRYABLE_KMS_ERRORS, errorName, hasErrorName } from '../../core/errors';
import { parseEvent } from '../../core/events';
import { checkKeyId, parseChangeInput } from '../../core/input';
import { checkMember, onceEach, placeAccount, type AccountPlacement } from '../../core/membership';
import type { KeyPlace } from '../../core/organisation';
import { buildPlan, type PlanContext } from '../../core/plan';
import { effectiveRecoveryProof } from '../../core/recovery';
import {
  approvalRulesSchema,
  recoveryProofModeSchema,
  type ApprovalRules,
  type ChangeInput,
  type Plan,
  type RecoveryProofMode,
} from '../../core/types';
import * as z from '../../core/schema';
import { readKey } from '../runtime/aws';
import type { KeyAccess } from '../runtime/key-access';
import type { CalendarReader } from '../runtime/calendars';
import type { TicketCheck } from '../runtime/change-tickets';
import { startInvocation, type Logger } from '../runtime/logger';

/** What ValidateOrigin works with. */
export interface ValidateOriginDeps {
  /** KMS on the key, in its account (the member read role) and Region. */
  keys: KeyAccess;
  /** Organizations, from the hub; needed when the configuration has members. */
  organizations?: OrganizationsCall;
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
 * ValidateOrigin: parses the change, checks that the key is one keymat may act on (the hub's, or a member account's
 * in a member Region, as Organizations places it) and a customer-managed EXTERNAL key, chooses the approval rules the
 * change takes, and builds the plan. The event is `{ executionId, input, rules, recoveryProof }`, with the raw
 * execution input (a malformed one is refused as InvalidInput), the deployment's own approval rules, its recovery
 * proof mode (a change may ask for a stricter one, never a weaker: InvalidInput) and the quorum of a restore (which
 * replaces the rules' quorum when the change is a restore).
 */
export function createValidateOrigin({
  keys,
  organizations,
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
  if (config.members !== undefined && organizations === undefined) {
    throw new Error('ValidateOrigin: the configuration names member accounts but no Organizations client was given');
  }

  /**
   * Where the key lives and the rules its change takes. With members, Organizations places the key's account (a
   * member account must be one of the configured ones); without, the key is the hub's and only an account rule can
   * match it. Nothing of the key is read before this: a key outside the organisation is refused first.
   */
  async function contextOf(
    place: KeyPlace,
    deployment: ApprovalRules,
    recoveryProof: RecoveryProofMode,
    restoreQuorum: number | undefined,
  ): Promise<PlanContext> {
    let placement: AccountPlacement = { account: place.account, accountName: place.account, organizationalUnits: [] };
    if (config.members !== undefined && organizations !== undefined) {
      placement = await placeAccount(onceEach(organizations), config.members, place.account);
      if (place.account !== config.scope.account) checkMember(config.members, placement);
    }
    const ous = placement.organizationalUnits;
    const rules = chooseRules(
      config.approvalRules,
      placement.account,
      ous.map((ou) => ou.id),
      deployment,
    );
    return {
      location: {
        account: placement.account,
        accountName: placement.accountName,
        ouPath: ous.map((ou) => ou.name),
        region: place.region,
      },
      // A restore is approved by the same approvers as the deletions of the key, in its own number.
      rules: restoreQuorum === undefined ? rules : { ...rules, quorum: restoreQuorum },
      recoveryProof,
      ...(restoreQuorum !== undefined && { restore: true as const }),
    };
  }

  /** GetKeyLastUsage is advisory: when it cannot answer for a non-transient reason, the plan says "unknown". */
  async function lastUsage(kms: KmsCall, keyArn: string): Promise<GetKeyLastUsageResponse | undefined> {
    try {
      return await kms('GetKeyLastUsage', { KeyId: keyArn });
    } catch (err) {
      if (hasErrorName(err, ...RETRYABLE_KMS_ERRORS)) throw err;
      logger.warn('GetKeyLastUsage failed; last use reported as unknown', { error: errorName(err) });
      return undefined;
    }
  }

  return async (event) => {
    const { executionId, input: rawInput, rules, recoveryProof, restoreQuorum } = eventFields(event);
    startInvocation(logger, { executionId: String(executionId) });
    const deployment = parseEvent(approvalRulesSchema, rules, 'ValidateOrigin');
    const deploymentProof = parseEvent(recoveryProofModeSchema, recoveryProof, 'ValidateOrigin');
    const input = parseChangeInput(rawInput, config.scope, config.defaultWaitSeconds, config.members, new Date());
    const proofMode = effectiveRecoveryProof(deploymentProof, input.recoveryProof);
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

    const place = checkKeyId(input.keyId, config.scope, config.members);
    const context: PlanContext = {
      ...(await contextOf(
        place,
        deployment,
        proofMode,
        input.restore ? parseEvent(restoreQuorumSchema, restoreQuorum, 'ValidateOrigin') : undefined,
      )),
      // A restore's expiry is part of what its approvers approve (parseChangeInput takes it on a restore only).
      ...(input.validTo !== undefined && { validTo: input.validTo }),
    };
    logger.appendKeys({ account: place.account, region: place.region });
    const kms = await keys({ executionArn: String(executionId), changeId: input.changeId })(place);
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
    const plan = buildPlan(snapshot, aliases, await lastUsage(kms, keyArn), input.keyMaterialId, context, {
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
    // Deletion Planned announces deletions; a restore is announced by Key Material Restored once it took effect.
    if (input.restore) return { input, plan };
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
          location: plan.location,
          rules: plan.rules,
          recoveryProof: plan.recoveryProof,
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

/** The distinct approvers a restore needs, as the definition gives it. */
const restoreQuorumSchema = z.number().check(z.int(), z.gte(1));

/**
 * The event's fields. The input is parsed by `parseChangeInput`, which names what is wrong with it; the rules and the
 * recovery proof are the definition's, parsed as any task's event; the execution id is the state machine's own and
 * is taken as it comes.
 */
function eventFields(event: unknown): {
  executionId: unknown;
  input: unknown;
  rules: unknown;
  recoveryProof: unknown;
  restoreQuorum: unknown;
} {
  const fields = typeof event === 'object' && event !== null ? (event as Record<string, unknown>) : {};
  return {
    executionId: fields.executionId,
    input: fields.input,
    rules: fields.rules,
    recoveryProof: fields.recoveryProof,
    restoreQuorum: fields.restoreQuorum,
  };
}
