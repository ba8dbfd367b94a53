import type { Logger } from '@aws-lambda-powertools/logger';
import type { SecretsCall, SfnCall } from '../../core/aws-api';
import type { RefusalCode } from '../../core/approvals';
import type { Attestor } from '../../core/attestation';
import { ChangeClient } from '../../core/change-client';
import type { EventPublisher } from '../../core/change-events';
import type { ApprovalPageConfig } from '../../core/config';
import { ChangeError } from '../../core/errors';
import { displayName } from '../../core/identity';
import { LINK_FIELDS, linkRefusal, verifyLink } from '../../core/links';
import { stateMachineArnOf } from '../../core/naming';
import * as z from '../../core/schema';
import { cleanComment } from '../../core/text';
import { logNotPublished } from '../runtime/events';
import { confirmationPage, messagePage } from './page';

/**
 * A Lambda Function URL or API Gateway HTTP API request (payload format 2.0), as much of it as the page reads. The
 * authorizer's claims are set by API Gateway, only after its JWT authorizer verified the token; no client can set them.
 */
export const pageRequestSchema = z.lazy(() =>
  z.object({
    requestContext: z.optional(
      z.object({
        http: z.optional(z.object({ method: z.optional(z.string()) })),
        authorizer: z.optional(
          z.object({ jwt: z.optional(z.object({ claims: z.optional(z.record(z.string(), z.unknown())) })) }),
        ),
      }),
    ),
    rawQueryString: z.optional(z.string()),
    body: z.optional(z.string()),
    isBase64Encoded: z.optional(z.boolean()),
  }),
);
export type PageRequest = z.infer<typeof pageRequestSchema>;

/** The page's answer, as a Function URL returns it. */
export interface PageResponse {
  statusCode: number;
  headers: Record<string, string>;
  body: string;
}

/** What the approval page works with: its clients, its configuration and its logger. */
export interface ApprovalPageDeps {
  /** Step Functions, to find the pending approval in the execution history and to answer it. */
  sfn: SfnCall;
  /** Secrets Manager, to read the link secret (once, on first use). */
  secrets: SecretsCall;
  /** MACs each approval with keymat's attestation key, so that DeleteMaterial accepts it. */
  attestor: Attestor;
  /** Publishes Approval Decided. */
  events: EventPublisher;
  config: ApprovalPageConfig;
  logger: Logger;
}

/** The channel a decision is attested with: the link alone, or the link and the signed-in user it names. */
const CHANNEL = { possession: 'web', identity: 'web-sso' } as const;

/** The signed-in user the verified token names in `claim`, or undefined when it names nobody. */
function signedInUser(request: PageRequest, claim: string): string | undefined {
  const value = request.requestContext?.authorizer?.jwt?.claims?.[claim];
  return typeof value === 'string' && value.trim() !== '' ? value : undefined;
}

/**
 * Whether the signed-in user is the link's approver: the claim equals the approver's own name (an IAM user's name,
 * an Identity Center session's user), ignoring case as IAM and mail addresses do.
 */
const namesApprover = (user: string, approver: string): boolean =>
  user.toLowerCase() === displayName(approver).toLowerCase();

/** The largest POST body the page reads: the form's fields and a comment fit many times over. */
export const MAX_BODY_BYTES = 16 * 1024;

const HEADERS = {
  'content-type': 'text/html; charset=utf-8',
  'cache-control': 'no-store',
  'referrer-policy': 'no-referrer',
  'x-frame-options': 'DENY',
  'content-security-policy':
    "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'",
};
const page = (statusCode: number, body: string): PageResponse => ({ statusCode, headers: HEADERS, body });

/** A used link (its approver already approved) is a conflict; an approver the rules refuse is forbidden. */
const REFUSAL_PAGES: Record<RefusalCode, { status: number; title: string }> = {
  ALREADY_APPROVED: { status: 409, title: 'Link already used' },
  REQUESTER: { status: 403, title: 'Not allowed' },
  NOT_ALLOWED: { status: 403, title: 'Not allowed' },
};

const nothingToDecide = (text: string): PageResponse => page(409, messagePage('Nothing to decide', text));
const badRequest = (text: string): PageResponse =>
  page(400, messagePage('Request refused', `${text} Nothing was decided.`));

/** A GET carries the link and nothing else; the form's POST adds the decision and a comment. */
const GET_FIELDS: ReadonlySet<string> = new Set(LINK_FIELDS);
const POST_FIELDS: ReadonlySet<string> = new Set([...LINK_FIELDS, 'decision', 'comment', 'irreversible']);

/**
 * The request's parameters when every one is expected and none is repeated, or why not. Nothing is read first-wins:
 * a parameter added to a link (`&decision=approve`) or a second value for a field is refused, not resolved.
 */
function strictParams(text: string, allowed: ReadonlySet<string>): URLSearchParams | string {
  const params = new URLSearchParams(text);
  const seen = new Set<string>();
  for (const name of params.keys()) {
    if (!allowed.has(name)) {
      return `The request has a parameter ${JSON.stringify(name.slice(0, 40))} that the page does not take: use the link as you received it.`;
    }
    if (seen.has(name)) return `The request gives ${JSON.stringify(name)} more than once: use the page's own form.`;
    seen.add(name);
  }
  return params;
}

/** Whether a POST body is over {@link MAX_BODY_BYTES}, measured before anything is decoded. */
function tooLarge(body: string, base64: boolean): boolean {
  return base64 ? body.length > Math.ceil(MAX_BODY_BYTES / 3) * 4 : Buffer.byteLength(body, 'utf8') > MAX_BODY_BYTES;
}

/**
 * The approval web page. A GET (which mail scanners send by themselves) only shows the plan and a form; only the
 * POST from that form decides. Links are signed for one approver named exactly in the configuration, expire, and
 * stop working once that approver's decision is in. Without `config.identityClaim` the page is possession-based: it
 * knows the link, not the person, and says so. With it (behind a JWT authorizer), a request must also carry the
 * signed-in user in that claim, and only the link's own approver gets past the link check. Each approval it records
 * is attested with keymat's key; a rejection goes through the same rules as everywhere else. Neither the signature nor the task token is ever logged.
 *
 * The state machine is not configured here: the link names the execution, and the page answers only the approval
 * that execution's history shows pending.
 */
export function createApprovalPage(deps: ApprovalPageDeps): (request: PageRequest) => Promise<PageResponse> {
  const { sfn, secrets, attestor, events, config, logger } = deps;
  const { identityClaim } = config;
  let secret: string | undefined;
  const linkSecret = async (): Promise<string> => {
    if (secret === undefined) {
      const value = (await secrets('GetSecretValue', { SecretId: config.linkSecretArn })).SecretString;
      if (!value) throw new Error(`secret ${config.linkSecretArn} has no SecretString: set the approval link secret`);
      secret = value;
    }
    return secret;
  };

  return async (request) => {
    const method = request.requestContext?.http?.method ?? 'GET';
    if (method !== 'GET' && method !== 'POST') {
      return page(405, messagePage('Not allowed', 'Use the link you received.'));
    }
    const user = identityClaim === undefined ? undefined : signedInUser(request, identityClaim);
    if (identityClaim !== undefined && user === undefined) {
      logger.warn('approval request refused: no signed-in user', { method, claim: identityClaim });
      return page(
        403,
        messagePage(
          'Sign-in required',
          `The page needs to know who you are, and this request's sign-in token has no ${JSON.stringify(identityClaim)} claim: sign in through your organization's identity provider, or ask the administrator to issue tokens with that claim. Nothing was decided.`,
        ),
      );
    }
    let params: URLSearchParams | string;
    if (method === 'GET') {
      params = strictParams(request.rawQueryString ?? '', GET_FIELDS);
    } else {
      const body = request.body ?? '';
      if (tooLarge(body, request.isBase64Encoded === true)) {
        return page(
          413,
          messagePage('Request too large', `The form allows at most ${MAX_BODY_BYTES} bytes. Nothing was decided.`),
        );
      }
      // The form posts to the page with an empty query string: the decision comes from the body alone.
      params = request.rawQueryString
        ? "A decision is posted by the page's own form, with nothing in the address after the page."
        : strictParams(Buffer.from(body, request.isBase64Encoded ? 'base64' : 'utf8').toString(), POST_FIELDS);
    }
    if (typeof params === 'string') {
      logger.warn('approval request refused', { method, reason: params });
      return badRequest(params);
    }
    const link = verifyLink(params, await linkSecret(), new Date());
    if (!link.ok) {
      logger.warn('approval link refused', { status: link.status, reason: link.reason });
      return page(link.status, messagePage('Link refused', `${link.reason} Nothing was decided.`));
    }
    const { executionArn, approver } = link.claims;
    logger.resetKeys();
    logger.appendKeys({ executionId: executionArn });
    if (user !== undefined && !namesApprover(user, approver)) {
      logger.warn('approval link refused: signed in as someone else', { approver, signedInAs: user });
      return page(
        403,
        messagePage(
          'Not allowed',
          `You are signed in as ${user}, and this link was made for ${approver}: only they can use it. Nothing was decided.`,
        ),
      );
    }

    // The execution's own state machine: the link names the execution, whatever machine it belongs to.
    const changes = new ChangeClient({ sfn, stateMachineArn: stateMachineArnOf(executionArn), attestor, events });
    const task = await changes.pendingApproval(executionArn);
    if (!task) return nothingToDecide('This change is not waiting for an approval any more. Nothing was decided.');
    const why = linkRefusal(approver, task.approval.approvals, task.input, task.plan.rules);
    if (why) {
      const { status, title } = REFUSAL_PAGES[why.code];
      return page(status, messagePage(title, `${why.message}. Nothing was decided.`));
    }
    if (method === 'GET') return page(200, confirmationPage(task, link, user));

    const decision = params.get('decision');
    if (decision !== 'approve' && decision !== 'reject') {
      return badRequest('Choose Approve or Reject on the page.');
    }
    const comment = cleanComment(params.get('comment') ?? undefined);
    const channel = user === undefined ? CHANNEL.possession : CHANNEL.identity;
    // The page's own checkbox: an unproven deletion is approved only with the approver's explicit confirmation.
    const irreversible = params.get('irreversible') === 'yes';
    const answer = { by: approver, channel, ...(comment && { comment }), ...(irreversible && { irreversible }) };
    try {
      const decided =
        decision === 'approve'
          ? await changes.approve(executionArn, task, answer)
          : await changes.reject(executionArn, task, answer);
      logNotPublished(logger, decided);
    } catch (err) {
      if (!(err instanceof ChangeError)) throw err;
      if (err.code === 'AlreadyDecided') return nothingToDecide('The approval was already decided or timed out.');
      if (err.code === 'ApprovalRefused' || err.code === 'RejectionRefused') {
        return page(403, messagePage('Not allowed', `${err.message}. Nothing was decided.`));
      }
      throw err;
    }
    logger.info('approval decided on the web page', { approver, decision, channel });
    return page(
      200,
      messagePage(
        decision === 'approve' ? 'Approved' : 'Rejected',
        `${approver} ${decision === 'approve' ? 'approved' : 'rejected'} change ${task.input.changeId}.`,
      ),
    );
  };
}
