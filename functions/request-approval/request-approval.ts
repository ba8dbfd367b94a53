import type { SecretsCall, SnsCall } from '../../core/aws-api';
import { changeEvent, type EventPublisher } from '../../core/change-events';
import type { RequestApprovalConfig } from '../../core/config';
import { parseEvent, requestApprovalEvent, type RequestApprovalEvent } from '../../core/events';
import { linkRecipients, signLink } from '../../core/links';
import { irreversibleToConfirm, recoveryLine } from '../../core/recovery';
import { describePlan } from '../../core/words';
import type { CalendarReader } from '../runtime/calendars';
import { startInvocation, type Logger } from '../runtime/logger';

/** What RequestApproval works with. */
export interface RequestApprovalDeps {
  sns: SnsCall;
  /** Reads the approval-link secret; used only when the configuration has the web channel. */
  secrets: SecretsCall;
  /** Publishes Approval Requested. */
  events: EventPublisher;
  /** Reads the change calendars for the request; used when the configuration names calendars. */
  calendars: CalendarReader;
  config: RequestApprovalConfig;
  logger: Logger;
}

/** RequestApproval's result: the id of the published approval request. */
export interface RequestApprovalResult {
  messageId: string;
}

/**
 * RequestApproval: publishes the approval request. The state machine then waits for SendTaskSuccess or
 * SendTaskFailure on the task token; the token itself is never put in the message (approvers' tools find it in the
 * execution history), so a forwarded message cannot decide anything.
 */
export function createRequestApproval({
  sns,
  secrets,
  events,
  calendars,
  config,
  logger,
}: RequestApprovalDeps): (event: unknown) => Promise<RequestApprovalResult> {
  const topicArn = config.approvalTopicArn;
  // Read once per instance (a container, or a local workflow): every link of every change is signed with it.
  let secret: string | undefined;

  async function linkSecret(secretArn: string): Promise<string> {
    if (secret === undefined) {
      const value = (await secrets('GetSecretValue', { SecretId: secretArn })).SecretString;
      if (value === undefined) {
        throw new Error(`secret ${secretArn} has no SecretString; store the approval-link secret as a string`);
      }
      secret = value;
    }
    return secret;
  }

  /**
   * A link for each approver the configuration names exactly who is not the requester and may still approve this
   * round, valid until shortly before the round times out. A link proves possession, not identity, so it is made
   * for one principal only: an approver pattern (`*`) gets none and uses the CLI, which authenticates them.
   */
  async function approvalLinks(e: RequestApprovalEvent): Promise<{ approver: string; link: string }[]> {
    // The web channel is there when the stack has the approval page.
    const web = config.web;
    if (web === undefined) return [];
    const recipients = linkRecipients(e.approval.approvals, e.input, e.plan.rules);
    if (recipients.length === 0) return [];
    const key = await linkSecret(web.linkSecretArn);
    const margin = Math.min(60, Math.floor(e.approvalTimeoutSeconds / 10));
    const expiresAt = Math.floor(Date.now() / 1000) + e.approvalTimeoutSeconds - margin;
    return recipients.map((approver) => ({
      approver,
      link: signLink(web.pageUrl, key, { executionArn: e.executionId, approver, expiresAt }),
    }));
  }

  return async (event) => {
    const e = parseEvent(requestApprovalEvent, event, 'RequestApproval');
    startInvocation(logger, { executionId: e.executionId, changeId: e.input.changeId, keyArn: e.plan.keyArn });
    const expires = new Date(Date.now() + e.approvalTimeoutSeconds * 1000).toISOString();
    const given = e.approval.approvals.map((a) => a.approver);
    // The calendars as they are now, not as the plan found them: an approver should know a freeze will hold the change.
    const plan =
      config.changeCalendars.length > 0
        ? { ...e.plan, changeWindow: await calendars(config.changeCalendars, new Date()) }
        : e.plan;
    const proof = e.recovery.proof;
    // First, before anything else an approver reads: whether the deletion was shown to be reversible.
    const recovery = recoveryLine(e.plan, proof);
    const irreversible = irreversibleToConfirm(e.plan, proof) ? ' --irreversible' : '';
    const message = [
      ...(recovery ? [recovery] : []),
      `keymat: a ${e.plan.restore ? 'restore' : 'deletion'} of imported key material needs your approval.`,
      '',
      ...describePlan(plan, e.input),
      '',
      `Approvals: ${given.length} of ${e.plan.rules.quorum} distinct approvers${given.length > 0 ? ` (so far: ${given.join(', ')})` : ''}.`,
      `This request expires at ${expires}; without a decision the change ends ApprovalTimedOut.`,
      `Approve: keymat approve ${e.executionId}${irreversible} --comment "…"`,
      `Reject:  keymat reject ${e.executionId} --comment "…"`,
      `The requester (${e.input.requestedBy}) cannot approve this change.`,
    ].join('\n');
    const published = await sns('Publish', {
      TopicArn: topicArn,
      Subject: `keymat approval needed: ${e.input.changeId}`.slice(0, 100),
      Message: message,
      MessageAttributes: {
        event: { DataType: 'String', StringValue: 'ApprovalRequested' },
        executionId: { DataType: 'String', StringValue: e.executionId },
        changeId: { DataType: 'String', StringValue: e.input.changeId },
        planDigest: { DataType: 'String', StringValue: e.plan.digest },
        // For subscription filter policies that route each account's or Region's requests to its own approvers.
        account: { DataType: 'String', StringValue: e.plan.location.account },
        region: { DataType: 'String', StringValue: e.plan.location.region },
      },
    });
    const messageId = published.MessageId;
    if (messageId === undefined) throw new Error(`SNS Publish to ${topicArn} returned no MessageId`);
    // Each approver's link goes in a message of its own, with an `approver` attribute for the subscription filter
    // policy that routes it to that person only: one message with every link would let one person use them all.
    for (const { approver, link } of await approvalLinks(e)) {
      await sns('Publish', {
        TopicArn: topicArn,
        Subject: `keymat approval needed: ${e.input.changeId} (your link)`.slice(0, 100),
        Message: [
          message,
          '',
          `Or decide on the web page with this link, made for ${approver} only: whoever holds it decides as ${approver}, so do not forward it. It works until shortly before ${expires}:`,
          link,
        ].join('\n'),
        MessageAttributes: {
          event: { DataType: 'String', StringValue: 'ApprovalLink' },
          approver: { DataType: 'String', StringValue: approver },
          executionId: { DataType: 'String', StringValue: e.executionId },
          changeId: { DataType: 'String', StringValue: e.input.changeId },
          planDigest: { DataType: 'String', StringValue: e.plan.digest },
        },
      });
    }
    await events.publish(
      changeEvent(
        'Approval Requested',
        {
          executionArn: e.executionId,
          changeId: e.input.changeId,
          keyArn: e.plan.keyArn,
          keyMaterialId: e.plan.keyMaterialId,
          round: given.length + 1,
          quorum: e.plan.rules.quorum,
          approvedBy: given,
          expiresAt: expires,
          planDigest: e.plan.digest,
        },
        new Date(),
        String(given.length + 1),
      ),
    );
    logger.info('approval requested', { messageId, expires });
    return { messageId };
  };
}
