import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { PublishCommand, SNSClient } from '@aws-sdk/client-sns';
import { mockClient } from 'aws-sdk-client-mock';
import 'aws-sdk-client-mock-jest';
import { verifyLink } from '../../../core/links';
import type { ApprovalRules } from '../../../core/types';
import { createRequestApproval } from '../../../functions/request-approval/request-approval';
import { input, planFor, snapshot } from '../../helpers/kms-fixtures';
import {
  APPROVAL_TOPIC_ARN,
  EXECUTION_ID,
  LINK_SECRET_ARN,
  PAGE_URL,
  NO_CALENDARS,
  NO_CHANGE_MANAGEMENT,
  recordedEvents,
  secretsClient,
  silentLogger,
  snsClient,
} from '../../helpers/task-deps';

const sns = mockClient(SNSClient);
const secrets = mockClient(SecretsManagerClient);
const SECRET = 'link-secret';
const plan = planFor(snapshot());
const user = (name: string) => `arn:aws:iam::111122223333:user/${name}`;

const event = (rules: ApprovalRules, approvers: string[] = []) => ({
  executionId: EXECUTION_ID,
  input: input({ requestedBy: user('alice') }),
  plan: { ...plan, rules },
  taskToken: 'AQB-token',
  approvalTimeoutSeconds: 3600,
  recovery: {},
  approval: {
    planDigest: plan.digest,
    approvals: approvers.map((approver, i) => ({
      approver,
      at: '2026-11-22T00:00:00Z',
      channel: 'cli',
      round: i + 1,
      mac: 'bWFj',
    })),
  },
});

const withWeb = () =>
  createRequestApproval({
    sns: snsClient(),
    secrets: secretsClient(),
    events: recordedEvents(),
    calendars: NO_CALENDARS,
    config: {
      approvalTopicArn: APPROVAL_TOPIC_ARN,
      web: { pageUrl: PAGE_URL, linkSecretArn: LINK_SECRET_ARN },
      ...NO_CHANGE_MANAGEMENT,
    },
    logger: silentLogger(),
  });

beforeEach(() => {
  sns.reset();
  secrets.reset();
  let n = 0;
  sns.on(PublishCommand).callsFake(async () => ({ MessageId: `m-${++n}` }));
  secrets.on(GetSecretValueCommand).resolves({ SecretString: SECRET });
});

const published = () => sns.commandCalls(PublishCommand).map((c) => c.args[0].input);
const linkedApprovers = () =>
  published()
    .slice(1)
    .map((m) => m.MessageAttributes?.approver?.StringValue);

describe('RequestApproval', () => {
  it('sends each approver named exactly who may still approve a link of their own, in a message of its own', async () => {
    const result = await withWeb()(
      event({ quorum: 2, allowedApprovers: [user('alice'), user('bob'), user('carol')] }, [user('bob')]),
    );
    expect(result).toEqual({ messageId: 'm-1' });
    const [general, ...links] = published();
    expect(general).toMatchObject({ TopicArn: APPROVAL_TOPIC_ARN });
    expect(general?.Message).not.toContain(PAGE_URL);
    // alice requested the change and bob has approved: only carol can still approve.
    expect(links).toHaveLength(1);
    expect(links[0]?.MessageAttributes?.approver).toEqual({ DataType: 'String', StringValue: user('carol') });
    const link = /https:\/\/page\.example\/approval\?\S+/.exec(links[0]?.Message ?? '')?.[0] as string;
    const check = verifyLink(new URL(link).searchParams, SECRET, new Date());
    expect(check).toMatchObject({ ok: true, claims: { executionArn: EXECUTION_ID, approver: user('carol') } });
    expect(links[0]?.Message).toContain(`whoever holds it decides as ${user('carol')}, so do not forward it`);
  });

  it('reads the link secret once per instance', async () => {
    const requestApproval = withWeb();
    await requestApproval(event({ quorum: 1, allowedApprovers: [user('bob')] }));
    await requestApproval(event({ quorum: 1, allowedApprovers: [user('bob')] }));
    expect(secrets).toHaveReceivedCommandTimes(GetSecretValueCommand, 1);
    expect(secrets).toHaveReceivedCommandWith(GetSecretValueCommand, { SecretId: LINK_SECRET_ARN });
  });

  it('sends no links when anyone but the requester may approve, and reads no secret', async () => {
    await withWeb()(event({ quorum: 1, allowedApprovers: [] }));
    expect(published()).toHaveLength(1);
    expect(secrets).not.toHaveReceivedCommand(GetSecretValueCommand);
  });

  it('sends no link to an approver pattern, and reads no secret when nobody gets one', async () => {
    const pattern = 'arn:aws:sts::111122223333:assumed-role/AWSReservedSSO_Approvers_*/*';
    await withWeb()(event({ quorum: 1, allowedApprovers: [pattern] }));
    expect(published()).toHaveLength(1);
    expect(secrets).not.toHaveReceivedCommand(GetSecretValueCommand);
  });

  it('sends the requester no link, however the configuration spells them', async () => {
    await withWeb()(event({ quorum: 1, allowedApprovers: [user('ALICE'), user('bob')] }));
    expect(linkedApprovers()).toEqual([user('bob')]);
  });

  it('sends a link only to the approvers named exactly, next to a pattern', async () => {
    const pattern = 'arn:aws:iam::111122223333:user/ops-*';
    await withWeb()(event({ quorum: 1, allowedApprovers: [pattern, user('carol')] }));
    expect(linkedApprovers()).toEqual([user('carol')]);
  });

  it('sends no links without the web channel', async () => {
    const requestApproval = createRequestApproval({
      sns: snsClient(),
      secrets: secretsClient(),
      events: recordedEvents(),
      calendars: NO_CALENDARS,
      config: { approvalTopicArn: APPROVAL_TOPIC_ARN, ...NO_CHANGE_MANAGEMENT },
      logger: silentLogger(),
    });
    await requestApproval(event({ quorum: 1, allowedApprovers: [user('bob')] }));
    expect(published()).toHaveLength(1);
    expect(secrets).not.toHaveReceivedCommand(GetSecretValueCommand);
  });

  it('refuses an event without a task token as a wiring error, and publishes nothing', async () => {
    const noToken: Record<string, unknown> = { ...event({ quorum: 1, allowedApprovers: [] }) };
    delete noToken.taskToken;
    await expect(withWeb()(noToken)).rejects.toThrow(/^RequestApproval received an event it cannot use: taskToken/);
    expect(sns).not.toHaveReceivedCommand(PublishCommand);
  });
});
