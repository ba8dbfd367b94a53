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
import type { ApprovalPageConfig } from '../../../core/config';
import { signLink } from '../../../core/links';
import { approvalResultSchema, type ApprovalRules } from '../../../core/types';
import {
  createApprovalPage,
  pageRequestSchema,
  type PageRequest,
} from '../../../functions/approval-page/approval-page';
import { testAttestor } from '../../helpers/attestor';
import { approvalScheduled } from '../../helpers/history';
import { input, planFor, snapshot } from '../../helpers/kms-fixtures';
import { LINK_SECRET_ARN, PAGE_URL, recordedEvents, secretsClient, silentLogger } from '../../helpers/task-deps';
import { sfnCall } from '../../../functions/runtime/aws';

const sfn = mockClient(SFNClient);
const secrets = mockClient(SecretsManagerClient);
const SECRET = 'link-secret';
const EXECUTION = 'arn:aws:states:us-east-1:111122223333:execution:KeymatDeletion:keymat-CHG-1';
/** An IAM Identity Center session: its session name is the signed-in user. */
const sso = (user: string) => `arn:aws:sts::111122223333:assumed-role/AWSReservedSSO_KeyApprovers_0123abcd/${user}`;
const BOB = sso('bob@example.com');
const CAROL = sso('carol@example.com');
const plan = planFor(snapshot());
const change = input({ requestedBy: sso('alice@example.com') });
const RULES: ApprovalRules = { quorum: 1, allowedApprovers: [BOB, CAROL] };
const attestor = testAttestor();

const scheduled = (): HistoryEvent =>
  approvalScheduled(EXECUTION, {
    taskToken: 'token-1',
    input: change,
    plan: { ...plan, rules: RULES },
    approval: { planDigest: plan.digest, approvals: [] },
    recovery: {},
  });

const BASE: ApprovalPageConfig = {
  linkSecretArn: LINK_SECRET_ARN,
  attestationKeyArn: 'arn:aws:kms:us-east-1:111122223333:key/mac',
  eventBusName: 'default',
};

const approvalPage = (config: ApprovalPageConfig = { ...BASE, identityClaim: 'email' }) =>
  createApprovalPage({
    sfn: sfnCall(new SFNClient({ region: 'us-east-1' })),
    secrets: secretsClient(),
    attestor,
    events: recordedEvents(),
    config,
    logger: silentLogger(),
  });

/** The query string of a link signed for `approver`. */
const linkFor = (approver: string): string =>
  signLink(PAGE_URL, SECRET, {
    executionArn: EXECUTION,
    approver,
    expiresAt: Math.floor(Date.now() / 1000) + 600,
  }).split('?')[1] as string;

/** The request context API Gateway sets after its JWT authorizer verified a token with these claims. */
const signedIn = (method: string, claims?: Record<string, unknown>): PageRequest['requestContext'] => ({
  http: { method },
  ...(claims && { authorizer: { jwt: { claims } } }),
});
const get = (query: string, claims?: Record<string, unknown>): PageRequest => ({
  requestContext: signedIn('GET', claims),
  rawQueryString: query,
});
const post = (body: string, claims?: Record<string, unknown>): PageRequest => ({
  requestContext: signedIn('POST', claims),
  rawQueryString: '',
  body,
});

const sentNothing = () => {
  expect(sfn).not.toHaveReceivedCommand(SendTaskSuccessCommand);
  expect(sfn).not.toHaveReceivedCommand(SendTaskFailureCommand);
};

/** The approval answer SendTaskSuccess carried, parsed. */
const sentApproval = () =>
  approvalResultSchema.parse(JSON.parse(sfn.commandCalls(SendTaskSuccessCommand)[0]?.args[0].input.output ?? 'null'));

beforeEach(() => {
  sfn.reset();
  secrets.reset();
  secrets.on(GetSecretValueCommand).resolves({ SecretString: SECRET });
  sfn.on(GetExecutionHistoryCommand).resolves({ events: [scheduled()] });
  sfn.on(SendTaskSuccessCommand).resolves({});
  sfn.on(SendTaskFailureCommand).resolves({});
});

describe('the approval page in identity mode', () => {
  it("shows who is signed in when the token's claim names the link's approver", async () => {
    const res = await approvalPage()(get(linkFor(BOB), { email: 'bob@example.com' }));
    expect(res.statusCode).toBe(200);
    expect(res.body).toContain('You are signed in as <strong>bob@example.com</strong>');
    expect(res.body).not.toContain('do not forward it');
    sentNothing();
  });

  it('approves when the claim names the approver, ignoring case, attested with channel web-sso', async () => {
    const res = await approvalPage()(post(`${linkFor(BOB)}&decision=approve`, { email: 'Bob@Example.COM' }));
    expect(res.statusCode).toBe(200);
    expect(res.body).toContain(`${BOB} approved change CHG-1.`);
    const sent = sentApproval();
    expect(sent.approvals).toEqual([expect.objectContaining({ approver: BOB, channel: 'web-sso', round: 1 })]);
    await expect(verifyApprovals(attestor, EXECUTION, sent, plan, change, RULES)).resolves.toBeUndefined();
  });

  it('rejects with channel web-sso in the cause', async () => {
    const res = await approvalPage()(post(`${linkFor(CAROL)}&decision=reject`, { email: 'carol@example.com' }));
    expect(res.statusCode).toBe(200);
    expect(sfn).toHaveReceivedCommandWith(SendTaskFailureCommand, {
      taskToken: 'token-1',
      error: 'ApprovalRejected',
      cause: `rejected by ${CAROL} (web-sso)`,
    });
  });

  it.each([
    ['no authorizer claims at all', undefined],
    ['claims without the configured one', { sub: 'b0b', 'cognito:username': 'bob' }],
    ['an empty claim', { email: '' }],
    ['a claim that is not text', { email: 42 }],
  ])('refuses a request with %s with 403, and decides nothing', async (_l, claims) => {
    for (const request of [get(linkFor(BOB), claims), post(`${linkFor(BOB)}&decision=approve`, claims)]) {
      const res = await approvalPage()(request);
      expect(res.statusCode).toBe(403);
      expect(res.body).toContain('no &quot;email&quot; claim');
      expect(res.body).toContain('Nothing was decided');
    }
    expect(sfn).not.toHaveReceivedCommand(GetExecutionHistoryCommand);
    sentNothing();
  });

  it("refuses another person's claim with 403, naming both, and sends nothing", async () => {
    for (const request of [
      get(linkFor(BOB), { email: 'carol@example.com' }),
      post(`${linkFor(BOB)}&decision=approve`, { email: 'carol@example.com' }),
      post(`${linkFor(BOB)}&decision=reject`, { email: 'carol@example.com' }),
    ]) {
      const res = await approvalPage()(request);
      expect(res.statusCode).toBe(403);
      expect(res.body).toContain(`You are signed in as carol@example.com, and this link was made for ${BOB}`);
    }
    expect(sfn).not.toHaveReceivedCommand(GetExecutionHistoryCommand);
    sentNothing();
  });

  it('reads the claims of an API Gateway HTTP API event as the handler parses it', async () => {
    const event = {
      version: '2.0',
      routeKey: 'GET /approval',
      rawPath: '/approval',
      rawQueryString: linkFor(BOB),
      headers: { authorization: 'Bearer eyJ...' },
      requestContext: {
        http: { method: 'GET', path: '/approval' },
        authorizer: { jwt: { claims: { email: 'bob@example.com', iss: 'https://idp.example.com' }, scopes: null } },
        routeKey: 'GET /approval',
      },
      isBase64Encoded: false,
    };
    const res = await approvalPage()(pageRequestSchema.parse(event));
    expect(res.statusCode).toBe(200);
    expect(res.body).toContain('You are signed in as <strong>bob@example.com</strong>');
  });

  it('reads the claim the configuration names', async () => {
    const page = approvalPage({ ...BASE, identityClaim: 'preferred_username' });
    expect((await page(get(linkFor(BOB), { email: 'bob@example.com' }))).statusCode).toBe(403);
    expect((await page(get(linkFor(BOB), { preferred_username: 'bob@example.com' }))).statusCode).toBe(200);
    sentNothing();
  });
});

describe('the approval page without identity mode', () => {
  it('decides a request with no claims as before, with channel web', async () => {
    const page = approvalPage(BASE);
    const shown = await page(get(linkFor(BOB)));
    expect(shown.statusCode).toBe(200);
    expect(shown.body).toContain('do not forward it');
    const res = await page(post(`${linkFor(BOB)}&decision=approve`));
    expect(res.statusCode).toBe(200);
    expect(sentApproval().approvals).toEqual([expect.objectContaining({ approver: BOB, channel: 'web' })]);
  });

  it('ignores claims a request carries: the link alone admits it', async () => {
    const res = await approvalPage(BASE)(post(`${linkFor(BOB)}&decision=approve`, { email: 'carol@example.com' }));
    expect(res.statusCode).toBe(200);
    expect(sentApproval().approvals[0]?.channel).toBe('web');
  });
});
