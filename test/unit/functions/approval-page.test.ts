import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import {
  GetExecutionHistoryCommand,
  SendTaskFailureCommand,
  SendTaskSuccessCommand,
  SFNClient,
  type HistoryEvent,
} from '@aws-sdk/client-sfn';
import { mockClient } from 'aws-sdk-client-mock';
import 'aws-sdk-client-mock-jest';
import { verifyApprovals } from '../../../core/approvals';
import { signLink } from '../../../core/links';
import { approvalResultSchema, type Approval, type ApprovalRules, type Plan } from '../../../core/types';
import {
  createApprovalPage,
  MAX_BODY_BYTES,
  type PageRequest,
  type PageResponse,
} from '../../../functions/approval-page/approval-page';
import { input, planFor, snapshot } from '../../helpers/kms-fixtures';
import { LINK_SECRET_ARN, PAGE_URL, recordedEvents, secretsClient, silentLogger } from '../../helpers/task-deps';
import { testAttestor } from '../../helpers/attestor';
import { approvalScheduled } from '../../helpers/history';
import { sfnCall } from '../../../functions/runtime/aws';

const sfn = mockClient(SFNClient);
const secrets = mockClient(SecretsManagerClient);
const SECRET = 'link-secret';
const EXECUTION = 'arn:aws:states:us-east-1:111122223333:execution:KeymatDeletion:keymat-CHG-1';
const user = (name: string) => `arn:aws:iam::111122223333:user/${name}`;
const plan = planFor(snapshot());
const change = input({ requestedBy: user('alice') });
const RULES: ApprovalRules = { quorum: 2, allowedApprovers: [user('alice'), user('bob'), user('carol')] };

const attestor = testAttestor();

const scheduled = (approvals: Approval[] = [], rules: ApprovalRules = RULES, over: Partial<Plan> = {}): HistoryEvent =>
  approvalScheduled(EXECUTION, {
    taskToken: 'token-1',
    input: change,
    plan: { ...plan, rules, ...over },
    approval: { planDigest: plan.digest, approvals },
    recovery: {},
  });

const approvalPage = () =>
  createApprovalPage({
    sfn: sfnCall(new SFNClient({ region: 'us-east-1' })),
    secrets: secretsClient(),
    attestor,
    events: recordedEvents(),
    config: {
      linkSecretArn: LINK_SECRET_ARN,
      attestationKeyArn: 'arn:aws:kms:us-east-1:111122223333:key/mac',
      eventBusName: 'default',
    },
    logger: silentLogger(),
  });

/** The query string of a link signed for `approver`. */
const linkFor = (approver: string): string =>
  signLink(PAGE_URL, SECRET, {
    executionArn: EXECUTION,
    approver,
    expiresAt: Math.floor(Date.now() / 1000) + 600,
  }).split('?')[1] as string;

const get = (query: string): PageRequest => ({ requestContext: { http: { method: 'GET' } }, rawQueryString: query });
const post = (body: string, over: Partial<PageRequest> = {}): PageRequest => ({
  requestContext: { http: { method: 'POST' } },
  rawQueryString: '',
  body,
  ...over,
});

const sentNothing = () => {
  expect(sfn).not.toHaveReceivedCommand(SendTaskSuccessCommand);
  expect(sfn).not.toHaveReceivedCommand(SendTaskFailureCommand);
};

/** The approval answer SendTaskSuccess carried, parsed. */
const sentApproval = () =>
  approvalResultSchema.parse(JSON.parse(sfn.commandCalls(SendTaskSuccessCommand)[0]?.args[0].input.output ?? 'null'));

/** The hidden fields and buttons of the confirmation form, in order. */
const formFields = (res: PageResponse) =>
  [...res.body.matchAll(/<(?:input|button)[^>]* name="([^"]+)"/g)].map((m) => m[1]);

beforeEach(() => {
  sfn.reset();
  secrets.reset();
  secrets.on(GetSecretValueCommand).resolves({ SecretString: SECRET });
  sfn.on(GetExecutionHistoryCommand).resolves({ events: [scheduled()] });
  sfn.on(SendTaskSuccessCommand).resolves({});
  sfn.on(SendTaskFailureCommand).resolves({});
});

describe('the approval page on GET', () => {
  it('shows a form of exactly the signed link fields, and decides nothing', async () => {
    const res = await approvalPage()(get(linkFor(user('bob'))));
    expect(res.statusCode).toBe(200);
    expect(formFields(res)).toEqual(['e', 'a', 'x', 's', 'comment', 'decision', 'decision']);
    expect(res.body).toContain('<form method="post" action="?">');
    sentNothing();
  });

  it('refuses a link with a decision appended, and decides nothing', async () => {
    const res = await approvalPage()(get(`${linkFor(user('bob'))}&decision=approve`));
    expect(res.statusCode).toBe(400);
    expect(res.body).toContain('Nothing was decided');
    expect(res.body).not.toContain('<form');
    sentNothing();
  });

  it.each([
    ['an unknown parameter', (q: string) => `${q}&utm_source=mail`],
    ['a comment', (q: string) => `${q}&comment=hi`],
    ['the approver twice', (q: string) => `${q}&a=${encodeURIComponent(user('carol'))}`],
    ['the signature twice', (q: string) => `${q}&s=AAAA`],
  ])('refuses a link with %s with 400', async (_l, edit) => {
    const res = await approvalPage()(get(edit(linkFor(user('bob')))));
    expect(res.statusCode).toBe(400);
    sentNothing();
  });

  it('refuses a link made for the requester with 403, however it spells them', async () => {
    const res = await approvalPage()(get(linkFor(user('ALICE'))));
    expect(res.statusCode).toBe(403);
    expect(res.body).toContain('cannot approve their own change');
    sentNothing();
  });

  it('refuses a link for a principal that only matches an approver pattern with 403', async () => {
    const pattern = 'arn:aws:iam::111122223333:user/ops-*';
    sfn
      .on(GetExecutionHistoryCommand)
      .resolves({ events: [scheduled([], { quorum: 1, allowedApprovers: [pattern] })] });
    const res = await approvalPage()(get(linkFor(user('ops-bob'))));
    expect(res.statusCode).toBe(403);
    expect(res.body).toContain('named exactly');
    sentNothing();
  });

  it('refuses a used link (its approver has approved) with 409', async () => {
    const bob: Approval = { approver: user('bob'), at: '2026-11-22T00:00:00Z', channel: 'web', round: 1, mac: 'bWFj' };
    sfn.on(GetExecutionHistoryCommand).resolves({ events: [scheduled([bob])] });
    expect((await approvalPage()(get(linkFor(user('bob'))))).statusCode).toBe(409);
    sentNothing();
  });
});

describe('the approval page on POST', () => {
  it('refuses the reflected `&decision=approve` on a Reject click, and sends nothing', async () => {
    // What the form of a page that reflected the appended parameter would post when Reject is clicked.
    const attack = `${linkFor(user('bob'))}&decision=approve&comment=&decision=reject`;
    const res = await approvalPage()(post(attack));
    expect(res.statusCode).toBe(400);
    expect(res.body).toContain('more than once');
    sentNothing();
  });

  it('refuses a decision in the address of the POST, and sends nothing', async () => {
    const res = await approvalPage()(
      post(`${linkFor(user('bob'))}&decision=reject`, { rawQueryString: 'decision=approve' }),
    );
    expect(res.statusCode).toBe(400);
    sentNothing();
  });

  it.each([
    ['the comment twice', '&decision=approve&comment=a&comment=b'],
    ['the execution twice', `&decision=approve&e=${encodeURIComponent(EXECUTION)}`],
    ['the expiry twice', '&decision=approve&x=1'],
    ['an unknown field', '&decision=approve&task=token-2'],
  ])('refuses %s with 400, and sends nothing', async (_l, extra) => {
    const res = await approvalPage()(post(`${linkFor(user('bob'))}${extra}`));
    expect(res.statusCode).toBe(400);
    sentNothing();
  });

  it('refuses a body over 16 KB with 413 before reading anything', async () => {
    const body = `${linkFor(user('bob'))}&decision=approve&comment=`;
    const res = await approvalPage()(post(body.padEnd(MAX_BODY_BYTES + 1, 'a')));
    expect(res.statusCode).toBe(413);
    expect(secrets).not.toHaveReceivedCommand(GetSecretValueCommand);
    expect(sfn).not.toHaveReceivedCommand(GetExecutionHistoryCommand);
    sentNothing();
  });

  it('refuses a base64 body that would decode to over 16 KB with 413', async () => {
    const body = `${linkFor(user('bob'))}&decision=approve&comment=`.padEnd(MAX_BODY_BYTES + 3, 'a');
    const res = await approvalPage()(post(Buffer.from(body).toString('base64'), { isBase64Encoded: true }));
    expect(res.statusCode).toBe(413);
    sentNothing();
  });

  it('takes a body of exactly 16 KB', async () => {
    const body = `${linkFor(user('bob'))}&decision=approve&comment=`.padEnd(MAX_BODY_BYTES, 'a');
    expect((await approvalPage()(post(body))).statusCode).toBe(200);
    expect(sentApproval().approvals[0]?.comment).toHaveLength(500);
  });

  it('refuses the requester with 403, and sends nothing', async () => {
    const res = await approvalPage()(post(`${linkFor(user('alice'))}&decision=reject`));
    expect(res.statusCode).toBe(403);
    sentNothing();
  });

  it('refuses a POST without a decision with 400', async () => {
    expect((await approvalPage()(post(linkFor(user('bob'))))).statusCode).toBe(400);
    sentNothing();
  });

  it('approves with an attested approval for its round, with the comment cleaned', async () => {
    const body = `${linkFor(user('bob'))}&comment=${encodeURIComponent('ok \u202egood\u200b ')}&decision=approve`;
    const res = await approvalPage()(post(body));
    expect(res.statusCode).toBe(200);
    expect(res.body).toContain(`${user('bob')} approved change CHG-1.`);
    expect(sfn).toHaveReceivedCommandWith(SendTaskSuccessCommand, { taskToken: 'token-1' });
    const sent = sentApproval();
    expect(sent).toMatchObject({
      planDigest: plan.digest,
      approvals: [{ approver: user('bob'), channel: 'web', round: 1, comment: 'ok good' }],
    });
    expect(sent.approvals[0]?.mac).toMatch(/^[A-Za-z0-9+/]+=*$/);
    await expect(
      verifyApprovals(attestor, EXECUTION, sent, plan, change, { ...RULES, quorum: 1 }),
    ).resolves.toBeUndefined();
  });

  it("approves an unproven change only with the page's own confirmation, which the attestation records", async () => {
    const unproven = { ...plan, recoveryProof: 'offered' as const };
    sfn.on(GetExecutionHistoryCommand).resolves({ events: [scheduled([], RULES, { recoveryProof: 'offered' })] });
    const refused = await approvalPage()(post(`${linkFor(user('bob'))}&decision=approve`));
    expect(refused.statusCode).toBe(403);
    expect(refused.body).toContain('did not confirm that the deletion may be irreversible');
    sentNothing();

    const res = await approvalPage()(post(`${linkFor(user('bob'))}&irreversible=yes&decision=approve`));
    expect(res.statusCode).toBe(200);
    const sent = sentApproval();
    expect(sent.approvals).toEqual([expect.objectContaining({ approver: user('bob'), irreversible: true })]);
    await expect(
      verifyApprovals(attestor, EXECUTION, sent, unproven, change, { ...RULES, quorum: 1 }),
    ).resolves.toBeUndefined();
    const forged = { ...sent, approvals: sent.approvals.map(({ irreversible: _, ...a }) => a) };
    await expect(
      verifyApprovals(attestor, EXECUTION, forged, unproven, change, { ...RULES, quorum: 1 }),
    ).rejects.toMatchObject({ name: 'ApprovalInvalid' });
  });

  it('answers the second round as round 2, keeping the first approval', async () => {
    await approvalPage()(post(`${linkFor(user('bob'))}&decision=approve`));
    const first = sentApproval().approvals;
    sfn.reset();
    sfn.on(GetExecutionHistoryCommand).resolves({ events: [scheduled(first)] });
    sfn.on(SendTaskSuccessCommand).resolves({});
    expect((await approvalPage()(post(`${linkFor(user('carol'))}&decision=approve`))).statusCode).toBe(200);
    const sent = sentApproval();
    expect(sent.approvals.map((a) => [a.approver, a.round])).toEqual([
      [user('bob'), 1],
      [user('carol'), 2],
    ]);
    await expect(verifyApprovals(attestor, EXECUTION, sent, plan, change, RULES)).resolves.toBeUndefined();
  });

  it('rejects through the rejection rules, naming the approver and the cleaned comment', async () => {
    const res = await approvalPage()(post(`${linkFor(user('carol'))}&decision=reject&comment=not%07yet`));
    expect(res.statusCode).toBe(200);
    expect(sfn).not.toHaveReceivedCommand(SendTaskSuccessCommand);
    expect(sfn).toHaveReceivedCommandWith(SendTaskFailureCommand, {
      taskToken: 'token-1',
      error: 'ApprovalRejected',
      cause: `rejected by ${user('carol')} (web): not yet`,
    });
  });

  it('answers 409 when the round was decided meanwhile', async () => {
    sfn.on(SendTaskSuccessCommand).rejects(Object.assign(new Error('gone'), { name: 'TaskTimedOut' }));
    const res = await approvalPage()(post(`${linkFor(user('bob'))}&decision=approve`));
    expect(res.statusCode).toBe(409);
    expect(res.body).toContain('already decided or timed out');
  });

  it('answers 409 when the change no longer waits for an approval, and sends nothing', async () => {
    sfn
      .on(GetExecutionHistoryCommand)
      .resolves({ events: [scheduled(), { type: 'TaskTimedOut', id: 6, timestamp: new Date() }] });
    expect((await approvalPage()(post(`${linkFor(user('bob'))}&decision=approve`))).statusCode).toBe(409);
    sentNothing();
  });
});
