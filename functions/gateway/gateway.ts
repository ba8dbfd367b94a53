import type { SsmCall } from '../../core/aws-api';
import { attestStart, type Attestor } from '../../core/attestation';
import { logNotPublished } from '../runtime/events';
import type { ChangeClient } from '../../core/change-client';
import type { GatewayConfig } from '../../core/config';
import { errorName, shown } from '../../core/errors';
import { canonicalPrincipal, matchesApprover } from '../../core/identity';
import { parseChangeInput } from '../../core/input';
import { PROOF_WRAPPING_ALGORITHMS } from '../../core/proof-wrapping';
import { base64, submissionDigest } from '../../core/recovery';
import * as z from '../../core/schema';
import { DEFAULT_WAIT_SECONDS } from '../../core/defaults';
import { executionNameFor, scopeOfStateMachine } from '../../core/naming';
import { cleanComment } from '../../core/text';
import { startInvocation, type Logger } from '../runtime/logger';

/** Requests larger than this are refused before they are parsed. */
export const MAX_BODY_BYTES = 16 * 1024;

/**
 * A Lambda Function URL request (payload 2.0) with `AuthType AWS_IAM`: Lambda has checked the SigV4 signature and
 * names the caller in `requestContext.authorizer.iam`. Nothing in the body says who the caller is.
 */
const urlRequest = z.lazy(() =>
  z.object({
    rawPath: z.string(),
    body: z.optional(z.string()),
    isBase64Encoded: z.optional(z.boolean()),
    requestContext: z.object({
      http: z.object({ method: z.string() }),
      authorizer: z.object({ iam: z.object({ userArn: z.string() }) }),
    }),
  }),
);

/** The runbook's direct invocation: the automation execution whose record (ExecutedBy, parameters) SSM holds. */
const runbookRequest = z.lazy(() =>
  z.object({
    runbook: z.strictObject({ automationExecutionId: z.string().check(z.regex(/^[A-Za-z0-9-]{1,64}$/)) }),
  }),
);

const startBody = z.lazy(() =>
  z.strictObject({
    keyId: z.unknown(),
    keyMaterialId: z.optional(z.unknown()),
    changeId: z.unknown(),
    reason: z.unknown(),
    waitSeconds: z.optional(z.unknown()),
    dryRun: z.optional(z.unknown()),
    restore: z.optional(z.unknown()),
    recoveryProof: z.optional(z.unknown()),
    validTo: z.optional(z.unknown()),
  }),
);
const execution = () => z.string().check(z.minLength(1), z.maxLength(2048));
const decisionBody = z.lazy(() =>
  z.strictObject({
    execution: execution(),
    comment: z.optional(z.string().check(z.maxLength(2000))),
    /** The approver confirms that an unproven deletion may be irreversible. */
    irreversible: z.optional(z.boolean()),
  }),
);
/** A custodian's submission: the wrapped copy, with the published token and wrapping it was made for. */
const recoveryBody = z.lazy(() =>
  z.strictObject({
    execution: execution(),
    wrappedKeyMaterial: base64(),
    importToken: base64(),
    wrappingAlgorithm: z.enum(PROOF_WRAPPING_ALGORITHMS),
  }),
);

export interface GatewayResponse {
  statusCode: number;
  headers: Record<string, string>;
  body: string;
}

export interface GatewayDeps {
  /** The change client, with the attestor that MACs each decision. */
  changes: ChangeClient;
  /** MACs the starts. */
  attestor: Attestor;
  /** Reads an automation execution's record for runbook starts. */
  ssm: SsmCall;
  config: GatewayConfig;
  logger: Logger;
}

/** A refusal the caller can act on: its HTTP status and error name travel in the answer. */
class Refusal extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

/** Change-client and task errors as HTTP statuses; anything else is a 500 whose details stay in the log. */
const STATUS_OF: Record<string, number> = {
  InvalidInput: 400,
  AliasNotAllowed: 400,
  KeyNotInThisAccountOrRegion: 400,
  KeyOutsideOrganisation: 400,
  InvalidIdentity: 403,
  ApprovalRefused: 403,
  RejectionRefused: 403,
  ProofRefused: 400,
  ExecutionNotFound: 404,
  ChangeIdInUse: 409,
  NothingToDecide: 409,
  AlreadyDecided: 409,
};

const json = (statusCode: number, body: unknown): GatewayResponse => ({
  statusCode,
  headers: { 'content-type': 'application/json', 'cache-control': 'no-store' },
  body: JSON.stringify(body),
});

/**
 * keymat's front door for people: starts changes and answers approvals as the caller Lambda authenticated, never as
 * anyone a request body names. `POST /changes` starts a deletion or a restore (the caller is the requester),
 * `POST /approve` and `POST /reject` decide the pending round of an execution (`POST /reject` also ends a change held
 * by its change window), `POST /recovery` hands a custodian's wrapped copy to the recovery proof or the restore an
 * execution waits for (the caller is the custodian). Every start and approval is attested with the attestation
 * key, so the workflow can tell them from a raw StartExecution or SendTaskSuccess.
 */
export function createGateway(
  deps: GatewayDeps,
): (event: unknown) => Promise<GatewayResponse | { executionArn: string }> {
  const { changes, attestor, ssm, config, logger } = deps;
  const identify = (arn: string) => canonicalPrincipal(arn, { sessionBoundRoles: config.sessionBoundRoles });
  const scope = scopeOfStateMachine(config.stateMachineArn);

  async function start(
    raw: unknown,
    requester: string,
    channel: string,
  ): Promise<{ executionArn: string; state: string }> {
    const parsed = startBody.safeParse(raw);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      const field = issue?.code === 'unrecognized_keys' ? issue.keys[0] : issue?.path.join('.');
      throw new Refusal(
        400,
        'InvalidInput',
        field === 'requestedBy'
          ? 'requestedBy is not accepted: the requester is the identity that signed the request'
          : `${field || 'body'} is not a field of a change start; send keyId, changeId, reason and optionally keyMaterialId, waitSeconds, dryRun, restore, recoveryProof, validTo`,
      );
    }
    const given = Object.fromEntries(Object.entries(parsed.data).filter(([, v]) => v !== undefined));
    const request = { ...given, requestedBy: requester };
    // Checked as ValidateOrigin will check it, so a bad input is refused here, before anything starts.
    const input = parseChangeInput(request, scope, DEFAULT_WAIT_SECONDS, config.members, new Date());
    const name = executionNameFor(input.changeId);
    const attested = await attestStart(attestor, name, request, channel, new Date());
    const started = await changes.start(input.changeId, attested);
    logger.info('change started', { executionArn: started.executionArn, requester, channel, state: started.state });
    return { executionArn: started.executionArn, state: started.state };
  }

  async function decide(path: string, raw: unknown, caller: string) {
    const parsed = decisionBody.safeParse(raw);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      throw new Refusal(400, 'InvalidInput', `${issue?.path.join('.') || 'body'}: ${issue?.message}`);
    }
    const comment = cleanComment(parsed.data.comment);
    const execution = parsed.data.execution;
    // A change approved and held by its change window can still be rejected (withdrawn), not approved again.
    const { executionArn, task } = await (path === '/approve'
      ? changes.waitingApproval(execution)
      : changes.waitingRejection(execution));
    startInvocation(logger, { executionId: executionArn, changeId: task.input.changeId, keyArn: task.plan.keyArn });
    const decision = {
      by: caller,
      channel: 'cli',
      ...(comment && { comment }),
      ...(parsed.data.irreversible && { irreversible: true }),
    };
    if (path === '/approve') {
      const approved = await changes.approve(executionArn, task, decision);
      const approvals = approved.output.approvals.length;
      logger.info('approval given', { approver: caller, approvals });
      logNotPublished(logger, approved);
      return { executionArn, approver: caller, approvals, quorum: task.plan.rules.quorum };
    }
    const rejected = await changes.reject(executionArn, task, decision);
    logger.info('change rejected', { by: caller, as: rejected.as });
    logNotPublished(logger, rejected);
    return { executionArn, rejectedBy: caller, as: rejected.as };
  }

  /** A custodian's recovery proof: whoever signed the request is the custodian the proof names. */
  async function prove(raw: unknown, caller: string) {
    const parsed = recoveryBody.safeParse(raw);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      const field = issue?.code === 'unrecognized_keys' ? issue.keys[0] : issue?.path.join('.');
      throw new Refusal(400, 'InvalidInput', `${field || 'body'}: ${issue?.message}`);
    }
    const { execution: asked, ...copy } = parsed.data;
    if (config.custodians.length > 0 && !config.custodians.some((pattern) => matchesApprover(caller, pattern))) {
      throw new Refusal(
        403,
        'ProofRefused',
        `${caller} is not one of the custodians (${config.custodians.join(', ')}), who alone may submit a copy of the material`,
      );
    }
    const { executionArn, task } = await changes.waitingProof(asked);
    startInvocation(logger, { executionId: executionArn, changeId: task.input.changeId, keyArn: task.plan.keyArn });
    const submitted = await changes.submitProof(executionArn, task, { by: caller, channel: 'cli', ...copy });
    // The copy, the token and the key stay out of the log: the submission is named by its digest.
    const digest = submissionDigest(submitted.wrappedKeyMaterial);
    logger.info('recovery proof submitted', {
      custodian: caller,
      keyMaterialId: task.plan.keyMaterialId,
      submissionDigest: digest,
    });
    // `restore` tells the custodian what the copy is for: a proof before a deletion's approval, or an approved restore.
    return {
      executionArn,
      custodian: caller,
      keyMaterialId: task.plan.keyMaterialId,
      submissionDigest: digest,
      restore: task.plan.restore === true,
    };
  }

  async function runbookStart(automationExecutionId: string): Promise<{ executionArn: string }> {
    const { AutomationExecution: run } = await ssm('GetAutomationExecution', {
      AutomationExecutionId: automationExecutionId,
    });
    if (!run?.ExecutedBy || run.AutomationExecutionStatus !== 'InProgress') {
      throw new Error(`automation execution ${automationExecutionId} is not in progress or names no ExecutedBy`);
    }
    const param = (name: string): string | undefined => run.Parameters?.[name]?.[0] || undefined;
    const waitSeconds = param('WaitSeconds');
    const request = {
      keyId: param('KeyId'),
      changeId: param('ChangeId'),
      reason: param('Reason'),
      ...(param('KeyMaterialId') && { keyMaterialId: param('KeyMaterialId') }),
      ...(waitSeconds !== undefined && { waitSeconds: Number(waitSeconds) }),
    };
    // The requester is whoever SSM says started the automation, not a parameter anyone could type.
    return start(request, identify(run.ExecutedBy), 'runbook');
  }

  return async (event) => {
    const runbook = runbookRequest.safeParse(event);
    if (runbook.success) return runbookStart(runbook.data.runbook.automationExecutionId);
    try {
      const request = urlRequest.safeParse(event);
      if (!request.success) throw new Refusal(400, 'InvalidRequest', 'not a signed Function URL request');
      const { rawPath, requestContext } = request.data;
      if (requestContext.http.method !== 'POST') throw new Refusal(405, 'MethodNotAllowed', 'use POST');
      const body = Buffer.from(request.data.body ?? '', request.data.isBase64Encoded ? 'base64' : 'utf8');
      if (body.length > MAX_BODY_BYTES) {
        throw new Refusal(413, 'RequestTooLarge', `the body is ${body.length} bytes; at most ${MAX_BODY_BYTES}`);
      }
      let parsed: unknown;
      try {
        parsed = JSON.parse(body.toString('utf8'));
      } catch {
        throw new Refusal(400, 'InvalidRequest', 'the body is not JSON');
      }
      const caller = identify(requestContext.authorizer.iam.userArn);
      startInvocation(logger, { executionId: `gateway-${rawPath}` });
      if (rawPath === '/changes') return json(200, await start(parsed, caller, 'cli'));
      if (rawPath === '/approve' || rawPath === '/reject') return json(200, await decide(rawPath, parsed, caller));
      if (rawPath === '/recovery') return json(200, await prove(parsed, caller));
      throw new Refusal(404, 'NotFound', `no route ${shown(rawPath)}: use /changes, /approve, /reject or /recovery`);
    } catch (err) {
      if (err instanceof Refusal) return json(err.status, { error: err.code, message: err.message });
      const name = errorName(err) ?? 'Error';
      const status = STATUS_OF[name];
      if (status !== undefined) return json(status, { error: name, message: (err as Error).message });
      logger.error('gateway request failed', { error: err as Error });
      return json(500, { error: 'InternalError', message: 'the gateway failed; the details are in its log' });
    }
  };
}
