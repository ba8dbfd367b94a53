import type { Logger } from '@aws-lambda-powertools/logger';
import { GetSecretValueCommand, type SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import type { SFNClient } from '@aws-sdk/client-sfn';
import { z } from 'zod';
import { refusal, type RefusalCode } from '../../core/approvals';
import { ChangeClient } from '../../core/change-client';
import type { ApprovalPageConfig } from '../../core/config';
import { ChangeError } from '../../core/errors';
import { verifyLink } from '../../core/links';
import { stateMachineArnOf } from '../../core/naming';
import { confirmationPage, messagePage } from './page';

/** A Lambda Function URL request (payload format 2.0), as much of it as the page reads. */
export const pageRequestSchema = z.object({
  requestContext: z.object({ http: z.object({ method: z.string().optional() }).optional() }).optional(),
  rawQueryString: z.string().optional(),
  body: z.string().optional(),
  isBase64Encoded: z.boolean().optional(),
});
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
  sfn: SFNClient;
  /** Secrets Manager, to read the link secret (once, on first use). */
  secrets: SecretsManagerClient;
  config: ApprovalPageConfig;
  logger: Logger;
}

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

/**
 * The approval web page. A GET (which mail scanners send by themselves) only shows the plan and a form; only the
 * POST from that form decides. Links are signed for one approver, expire, and stop working once that approver's
 * decision is in. Neither the signature nor the task token is ever logged.
 *
 * The state machine is not configured here: the link names the execution, and the page answers only the approval
 * that execution's history shows pending.
 */
export function createApprovalPage(deps: ApprovalPageDeps): (request: PageRequest) => Promise<PageResponse> {
  const { sfn, secrets, config, logger } = deps;
  let secret: string | undefined;
  const linkSecret = async (): Promise<string> => {
    if (secret === undefined) {
      const value = (await secrets.send(new GetSecretValueCommand({ SecretId: config.linkSecretArn }))).SecretString;
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
    const params = new URLSearchParams(
      method === 'GET'
        ? (request.rawQueryString ?? '')
        : Buffer.from(request.body ?? '', request.isBase64Encoded ? 'base64' : 'utf8').toString(),
    );
    const link = verifyLink(params, await linkSecret(), new Date());
    if (!link.ok) {
      logger.warn('approval link refused', { status: link.status, reason: link.reason });
      return page(link.status, messagePage('Link refused', `${link.reason} Nothing was decided.`));
    }
    const { executionArn, approver } = link.claims;
    logger.resetKeys();
    logger.appendKeys({ executionId: executionArn });

    // The execution's own state machine: the link names the execution, whatever machine it belongs to.
    const changes = new ChangeClient({ sfn, stateMachineArn: stateMachineArnOf(executionArn) });
    const task = await changes.pendingApproval(executionArn);
    if (!task) return nothingToDecide('This change is not waiting for an approval any more. Nothing was decided.');
    const why = refusal(approver, task.approval.approvals, task.input, task.rules);
    if (why) {
      const { status, title } = REFUSAL_PAGES[why.code];
      return page(status, messagePage(title, `${why.message}. Nothing was decided.`));
    }
    if (method === 'GET') return page(200, confirmationPage(task.input, task.plan, approver, params));

    const decision = params.get('decision');
    if (decision !== 'approve' && decision !== 'reject') {
      return page(400, messagePage('No decision', 'Choose Approve or Reject on the page. Nothing was decided.'));
    }
    const answer = { by: approver, channel: 'web', comment: (params.get('comment') ?? '').slice(0, 500) };
    try {
      if (decision === 'approve') await changes.approve(task, answer);
      else await changes.reject(task, answer);
    } catch (err) {
      if (err instanceof ChangeError && err.code === 'AlreadyDecided') {
        return nothingToDecide('The approval was already decided or timed out.');
      }
      throw err;
    }
    logger.info('approval decided on the web page', { approver, decision });
    return page(
      200,
      messagePage(
        decision === 'approve' ? 'Approved' : 'Rejected',
        `${approver} ${decision === 'approve' ? 'approved' : 'rejected'} change ${task.input.changeId}.`,
      ),
    );
  };
}
