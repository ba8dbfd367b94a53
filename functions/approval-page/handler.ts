import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { SendTaskFailureCommand, SendTaskSuccessCommand, SFNClient } from '@aws-sdk/client-sfn';
import { refusal, rejection, withApproval } from '../../core/approvals';
import { requireEnv } from '../runtime/env';
import { pendingApproval, readHistory } from '../../core/history';
import { verifyLink } from '../../core/links';
import { logger, startInvocation } from '../runtime/logger';
import { confirmationPage, messagePage } from './page';

const sfn = new SFNClient({});
const secrets = new SecretsManagerClient({});
const secretArn = requireEnv('LINK_SECRET_ARN');
let secret: string | undefined;

/** A Lambda Function URL request (payload format 2.0), as much of it as the page reads. */
export interface PageRequest {
  requestContext?: { http?: { method?: string } };
  rawQueryString?: string;
  body?: string;
  isBase64Encoded?: boolean;
}

export interface PageResponse {
  statusCode: number;
  headers: Record<string, string>;
  body: string;
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

/**
 * The approval web page. A GET (which mail scanners send by themselves) only shows the plan and a form; only the
 * POST from that form decides. Links are signed for one approver, expire, and stop working once that approver's
 * decision is in. Neither the signature nor the task token is ever logged.
 */
export async function handler(event: PageRequest): Promise<PageResponse> {
  const method = event.requestContext?.http?.method ?? 'GET';
  if (method !== 'GET' && method !== 'POST') return page(405, messagePage('Not allowed', 'Use the link you received.'));
  const params = new URLSearchParams(
    method === 'GET'
      ? (event.rawQueryString ?? '')
      : Buffer.from(event.body ?? '', event.isBase64Encoded ? 'base64' : 'utf8').toString(),
  );
  secret ??= (await secrets.send(new GetSecretValueCommand({ SecretId: secretArn }))).SecretString;
  const link = verifyLink(params, secret as string, new Date());
  if (!link.ok) {
    logger.warn('approval link refused', { status: link.status, reason: link.reason });
    return page(link.status, messagePage('Link refused', `${link.reason} Nothing was decided.`));
  }
  const { executionArn, approver } = link.claims;
  startInvocation({ executionId: executionArn });

  let task;
  try {
    task = pendingApproval(await readHistory(sfn, executionArn));
  } catch (err) {
    if ((err as Error).name !== 'ExecutionDoesNotExist') throw err;
  }
  if (!task) {
    return page(
      409,
      messagePage('Nothing to decide', 'This change is not waiting for an approval any more. Nothing was decided.'),
    );
  }
  const why = refusal(approver, task.approval.approvals, task.input, task.rules);
  if (why) {
    const used = why.includes('already approved');
    return page(
      used ? 409 : 403,
      messagePage(used ? 'Link already used' : 'Not allowed', `${why}. Nothing was decided.`),
    );
  }
  if (method === 'GET') return page(200, confirmationPage(task.input, task.plan, approver, params));

  const decision = params.get('decision');
  const comment = (params.get('comment') ?? '').slice(0, 500);
  try {
    if (decision === 'approve') {
      const output = withApproval(task.plan.digest, task.approval.approvals, { approver, channel: 'web', comment });
      await sfn.send(new SendTaskSuccessCommand({ taskToken: task.taskToken, output: JSON.stringify(output) }));
    } else if (decision === 'reject') {
      await sfn.send(new SendTaskFailureCommand({ taskToken: task.taskToken, ...rejection(approver, 'web', comment) }));
    } else {
      return page(400, messagePage('No decision', 'Choose Approve or Reject on the page. Nothing was decided.'));
    }
  } catch (err) {
    if ((err as Error).name === 'TaskDoesNotExist' || (err as Error).name === 'TaskTimedOut') {
      return page(409, messagePage('Nothing to decide', 'The approval was already decided or timed out.'));
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
}
