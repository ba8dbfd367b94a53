import {
  DescribeKeyCommand,
  DisableKeyCommand,
  EnableKeyCommand,
  GenerateMacCommand,
  KMSClient,
  VerifyMacCommand,
} from '@aws-sdk/client-kms';
import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import {
  DescribeExecutionCommand,
  ListExecutionsCommand,
  SendTaskFailureCommand,
  SendTaskHeartbeatCommand,
  SendTaskSuccessCommand,
  SFNClient,
  StartExecutionCommand,
  StopExecutionCommand,
  type DescribeExecutionCommandOutput,
} from '@aws-sdk/client-sfn';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { attestStart } from '../../core/attestation';
import { hasErrorName } from '../../core/errors';
import { pendingApproval, readHistory, type PendingApprovalTask } from '../../core/history';
import { executionArnOf } from '../../core/naming';
import { hasUnsafeCharacters } from '../../core/text';
import { outcomeSchema, type Approval, type ApprovalResult } from '../../core/types';
import type { LocalCredentials } from '../../local/services/clients';
import { localAttestor } from '../../local/workflow/engine';
import type { CreatedKey } from '../../local/kms/byok';
import { LocalStack } from '../../local/services/server';
import { readOutbox } from '../../local/state/store';
import { prepareWorkflow } from '../../local/workflow/workflow';
import { errorOf, keymatSfnClient } from '../helpers/local-stack';
import { jsonRequest, rawExchange } from '../helpers/raw-http';
import { keymat } from '../helpers/run-cli';
import { keySupply, seedExternalKeys } from '../helpers/seeded-keys';
import { sfnCall } from '../../functions/runtime/aws';
import { ATTESTATION_KEY_ALIAS, DEFAULT_REGION, LOCAL_CREDENTIALS } from '../../local/constants';

/**
 * The attacker's review of the two-person rule, on the served local stack (`keymat local serve`): every attack of the
 * review is refused, the key stays Enabled, and no DeleteImportedKeyMaterial reaches KMS. The stack asks for two
 * distinct approvers among bob, carol and alice; alice requests every change, so bob and carol are the only people
 * who can approve it. As on AWS, only keymat's own identities may change an execution through the Step Functions API
 * (SendTask*, StartExecution, StopExecution): people are refused them and go through the gateway. A holder of those
 * permissions (keymat's credential here, standing for an administrator who grants them to himself) is the attacker
 * the attestations are for.
 */
let dir: string;
let stack: LocalStack;
let endpoint: string;
/** Holds states:SendTask* and states:StartExecution: see the file's summary. */
let holder: SFNClient;
const user = (name: string) => `arn:aws:iam::111122223333:user/${name}`;
const APPROVERS = [user('bob'), user('carol'), user('alice')];

let keys: { next: () => CreatedKey };

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'keymat-attacks-'));
  keys = keySupply(
    seedExternalKeys(
      dir,
      join(dir, 'byok'),
      Array.from({ length: 27 }, () => ({})),
    ),
  );
  stack = await LocalStack.start({
    stateDir: dir,
    workflow: (at) =>
      prepareWorkflow(at, { recoveryProof: 'off', approvalTimeoutSeconds: 120, quorum: 2, approvers: APPROVERS }),
  });
  endpoint = stack.endpoint;
  holder = keymatSfnClient(endpoint, dir);
}, 60_000);
afterAll(async () => {
  // The changes the tests leave waiting are withdrawn by their requester, so that none is at work when the stack goes.
  for (const executionArn of startedHere) {
    const { status } = await sfn('mallory').send(new DescribeExecutionCommand({ executionArn }));
    if (status !== 'RUNNING') continue;
    await gateway('/reject', { execution: executionArn, comment: 'end of the test' }, 'alice');
    await finished(executionArn);
  }
  for (const client of [...clients.values(), holder]) client.destroy();
  await stack.close();
  rmSync(dir, { recursive: true, force: true });
});

// ---- the attacker's tools: SDK clients signed as anyone, raw gateway requests, the history and the outbox ----

const clients = new Map<string, SFNClient | KMSClient | SecretsManagerClient>();
/** One client per service and signer, made on first use; the signer is the access key id, as the local stack reads it. */
function signedClient<C extends SFNClient | KMSClient | SecretsManagerClient>(
  service: string,
  name: string,
  make: (config: { endpoint: string; region: string; credentials: LocalCredentials; maxAttempts: number }) => C,
): C {
  const id = `${service}:${name}`;
  const made =
    clients.get(id) ??
    make({
      endpoint,
      region: DEFAULT_REGION,
      credentials: { accessKeyId: name, secretAccessKey: 'local' },
      maxAttempts: 1,
    });
  clients.set(id, made);
  return made as C;
}
const sfn = (name: string) => signedClient('states', name, (c) => new SFNClient(c));
const kms = (name: string) => signedClient('kms', name, (c) => new KMSClient(c));
const secrets = (name: string) => signedClient('secretsmanager', name, (c) => new SecretsManagerClient(c));

const signedBy = (accessKeyId: string) =>
  `AWS4-HMAC-SHA256 Credential=${accessKeyId}/20250101/us-east-1/lambda/aws4_request, SignedHeaders=host, Signature=0`;

interface GatewayAnswer {
  status: number;
  body: {
    error?: string;
    message?: string;
    executionArn?: string;
    state?: string;
    approver?: string;
    approvals?: number;
    as?: string;
  };
}

/**
 * A POST to the local gateway, signed (as far as the local stack reads a signature) with `accessKeyId`, written on a
 * raw socket so that the access key id and the body go out byte for byte (UTF-8), as no HTTP client would send them.
 */
async function gateway(route: string, body: unknown, accessKeyId: string): Promise<GatewayAnswer> {
  const bytes = Buffer.from(typeof body === 'string' ? body : JSON.stringify(body), 'utf8');
  const head = [
    `POST /gateway${route} HTTP/1.1`,
    'host: 127.0.0.1',
    'content-type: application/json',
    `authorization: ${signedBy(accessKeyId)}`,
    `content-length: ${bytes.length}`,
    'connection: close',
    '',
    '',
  ].join('\r\n');
  const answer = await rawExchange(endpoint, Buffer.concat([Buffer.from(head, 'utf8'), bytes]), { halfClose: false });
  const text = answer.text.slice(answer.text.indexOf('\r\n\r\n') + 4);
  return { status: answer.status, body: JSON.parse(text) as GatewayAnswer['body'] };
}

const newKey = async (): Promise<CreatedKey> => keys.next();

/** Every change started here in alice's name: those still waiting at the end are withdrawn by her. */
const startedHere = new Set<string>();

/** Starts a change through the gateway as alice (waitSeconds 0) and returns its execution ARN. */
async function startAsAlice(changeId: string, key: CreatedKey): Promise<string> {
  const started = await gateway('/changes', { keyId: key.keyArn, changeId, reason: 'retire', waitSeconds: 0 }, 'alice');
  expect(started).toMatchObject({ status: 200, body: { state: 'STARTED' } });
  startedHere.add(started.body.executionArn as string);
  return started.body.executionArn as string;
}

/** Whether the local Step Functions still takes an answer on this token (a heartbeat changes nothing). */
async function accepts(taskToken: string): Promise<boolean> {
  try {
    await holder.send(new SendTaskHeartbeatCommand({ taskToken }));
    return true;
  } catch (err) {
    if (hasErrorName(err, 'TaskDoesNotExist')) return false;
    throw err;
  }
}

/**
 * The approval round `round` of an execution, once it waits for its answer: its task (as anyone reading the history
 * sees it, token included) is in the history and its token takes answers.
 */
async function awaitRound(executionArn: string, round: number): Promise<PendingApprovalTask> {
  for (let i = 0; i < 400; i++) {
    const task = pendingApproval(await readHistory(sfnCall(sfn('mallory')), executionArn));
    if (task && task.approval.approvals.length === round - 1 && (await accepts(task.taskToken))) return task;
    await sleep(25);
  }
  throw new Error(`${executionArn} never waited for approval round ${round}`);
}

async function finished(executionArn: string): Promise<DescribeExecutionCommandOutput> {
  for (let i = 0; i < 400; i++) {
    const described = await sfn('mallory').send(new DescribeExecutionCommand({ executionArn }));
    if (described.status !== 'RUNNING') return described;
    await sleep(25);
  }
  throw new Error(`${executionArn} did not finish`);
}

/** How an execution goes on: its end, or `WAITING` once it asks for an approval. */
async function endOrApproval(executionArn: string): Promise<DescribeExecutionCommandOutput | 'WAITING'> {
  for (let i = 0; i < 400; i++) {
    const described = await sfn('mallory').send(new DescribeExecutionCommand({ executionArn }));
    if (described.status !== 'RUNNING') return described;
    if (pendingApproval(await readHistory(sfnCall(sfn('mallory')), executionArn))) return 'WAITING';
    await sleep(25);
  }
  throw new Error(`${executionArn} neither ended nor asked for an approval`);
}

/** The execution still waits on the same round, on the same token, with no approval given. */
async function expectStillWaiting(executionArn: string, task: PendingApprovalTask): Promise<void> {
  const now = pendingApproval(await readHistory(sfnCall(sfn('mallory')), executionArn));
  expect(now?.taskToken).toBe(task.taskToken);
  expect(now?.approval.approvals).toEqual(task.approval.approvals);
  expect(await accepts(task.taskToken)).toBe(true);
}

const deletesOf = (keyArn: string) =>
  stack.requestLog.read().filter((e) => e.operation === 'DeleteImportedKeyMaterial' && e.keyId === keyArn);

/** The key is Enabled and no DeleteImportedKeyMaterial for it ever reached KMS. */
async function expectUntouched(key: CreatedKey, state = 'Enabled'): Promise<void> {
  expect(deletesOf(key.keyArn)).toEqual([]);
  const { KeyMetadata } = await kms('mallory').send(new DescribeKeyCommand({ KeyId: key.keyArn }));
  expect(KeyMetadata?.KeyState).toBe(state);
}

/** An approval as anyone can write it: a name, a round, and a MAC nobody computed. */
const forged = (name: string, round: number): Approval => ({
  approver: user(name),
  at: new Date().toISOString(),
  channel: 'cli',
  round,
  mac: randomBytes(32).toString('base64'),
});

/** A SendTaskSuccess straight to Step Functions, as a holder of the permission can send it. */
const sendSuccess = (taskToken: string, output: unknown) =>
  holder.send(new SendTaskSuccessCommand({ taskToken, output: JSON.stringify(output) }));

/** The personal links of an execution's approval requests so far, by approver principal. */
function linksOf(executionArn: string): Map<string, string[]> {
  const links = new Map<string, string[]>();
  for (const m of readOutbox(dir)) {
    if (m.attributes.executionId !== executionArn || m.attributes.event !== 'ApprovalLink') continue;
    const approver = m.attributes.approver ?? '';
    links.set(approver, [...(links.get(approver) ?? []), /(http\S+)$/.exec(m.message)?.[1] ?? '']);
  }
  return links;
}

/** An approved change of its own: the attested approvals of bob (round 1) and carol (round 2), and its plan digest. */
async function approvedElsewhere(changeId: string): Promise<{ planDigest: string; approvals: Approval[] }> {
  const executionArn = await startAsAlice(changeId, await newKey());
  const { plan } = await awaitRound(executionArn, 1);
  expect((await gateway('/approve', { execution: executionArn }, 'bob')).status).toBe(200);
  await awaitRound(executionArn, 2);
  expect((await gateway('/approve', { execution: executionArn }, 'carol')).status).toBe(200);
  const end = await finished(executionArn);
  expect(end.status).toBe('SUCCEEDED');
  return { planDigest: plan.digest, approvals: outcomeSchema.parse(JSON.parse(end.output ?? '{}')).approvals };
}

describe('1. approvers claimed, not authenticated', () => {
  let elsewhere: { planDigest: string; approvals: Approval[] };
  beforeAll(async () => {
    elsewhere = await approvedElsewhere('CHG-A1-REAL');
  });

  it.each<[string, (digest: string) => ApprovalResult]>([
    [
      'with made-up rounds and MACs',
      (planDigest) => ({ planDigest, approvals: [forged('bob', 1), forged('carol', 2)] }),
    ],
    [
      "with the MACs of bob's and carol's real approvals of another execution",
      (planDigest) => ({ planDigest, approvals: elsewhere.approvals }),
    ],
    ["with another execution's real approvals and its plan digest", () => elsewhere],
  ])('a direct SendTaskSuccess naming bob and carol %s ends ApprovalInvalid', async (_label, answer) => {
    const key = await newKey();
    const executionArn = await startAsAlice(`CHG-A1-${randomBytes(3).toString('hex')}`, key);
    // The token and the plan digest are in the history, which every operator may read.
    const task = await awaitRound(executionArn, 1);
    await sendSuccess(task.taskToken, answer(task.plan.digest));
    const end = await finished(executionArn);
    expect(end).toMatchObject({ status: 'FAILED', error: 'ApprovalInvalid' });
    expect(end.cause).toContain('nothing was deleted');
    await expectUntouched(key);
  });

  it('ends a raw StartExecution naming bob as the requester StartNotAttested, before reading the key', async () => {
    const key = await newKey();
    const { executionArn } = await holder.send(
      new StartExecutionCommand({
        stateMachineArn: stack.stateMachineArn,
        name: 'keymat-CHG-A1-RAW',
        input: JSON.stringify({ keyId: key.keyArn, changeId: 'CHG-A1-RAW', reason: 'r', requestedBy: user('bob') }),
      }),
    );
    expect(await finished(executionArn as string)).toMatchObject({ status: 'FAILED', error: 'StartNotAttested' });
    await expectUntouched(key);
  });

  it("ends alice's attested start replayed under another name, or for another key, StartNotAttested", async () => {
    const real = await sfn('mallory').send(
      new DescribeExecutionCommand({
        executionArn: executionArnOf(stack.stateMachineArn as string, 'keymat-CHG-A1-REAL'),
      }),
    );
    const attested = JSON.parse(real.input ?? '{}') as Record<string, unknown>;
    expect(attested.attestation).toBeDefined();
    const key = await newKey();
    const replays = [
      { name: 'keymat-CHG-A1-REPLAY', input: attested },
      { name: 'keymat-CHG-A1-REKEY', input: { ...attested, keyId: key.keyArn } },
      { name: 'keymat-CHG-A1-RENAMED', input: { ...attested, keyId: key.keyArn, requestedBy: user('mallory') } },
    ];
    for (const replay of replays) {
      const { executionArn } = await holder.send(
        new StartExecutionCommand({
          stateMachineArn: stack.stateMachineArn,
          name: replay.name,
          input: JSON.stringify(replay.input),
        }),
      );
      expect(await finished(executionArn as string)).toMatchObject({ status: 'FAILED', error: 'StartNotAttested' });
    }
    await expectUntouched(key);
    // The replayed input names the key the real change deleted: nothing but that one deletion reached it.
    expect(deletesOf(attested.keyId as string)).toHaveLength(1);
  });

  it('refuses a gateway start whose body brings its own attestation', async () => {
    const key = await newKey();
    const answer = await gateway(
      '/changes',
      {
        keyId: key.keyArn,
        changeId: 'CHG-A1-OWN',
        reason: 'r',
        attestation: { at: new Date().toISOString(), channel: 'cli', mac: 'AAAA' },
      },
      'mallory',
    );
    expect(answer).toMatchObject({ status: 400, body: { error: 'InvalidInput' } });
    expect(answer.body.message).toContain('attestation is not a field of a change start');
    const missing = await errorOf(() =>
      sfn('mallory').send(
        new DescribeExecutionCommand({
          executionArn: executionArnOf(stack.stateMachineArn as string, 'keymat-CHG-A1-OWN'),
        }),
      ),
    );
    expect(missing.name).toBe('ExecutionDoesNotExist');
  });
});

describe('2. the requester is whoever signed', () => {
  let key: CreatedKey;
  let executionArn: string;
  let task: PendingApprovalTask;
  beforeAll(async () => {
    key = await newKey();
    executionArn = await startAsAlice('CHG-A2', key);
    task = await awaitRound(executionArn, 1);
  });

  it('records the signer as the requester, and refuses a requestedBy in the body', async () => {
    expect(task.input.requestedBy).toBe(user('alice'));
    const named = await gateway(
      '/changes',
      { keyId: key.keyArn, changeId: 'CHG-A2-NAMED', reason: 'r', requestedBy: user('bob') },
      'alice',
    );
    expect(named).toMatchObject({ status: 400, body: { error: 'InvalidInput' } });
    expect(named.body.message).toContain('requestedBy is not accepted');
  });

  it.each([
    ['upper case', 'Alice'],
    ['capitals', 'ALICE'],
  ])('refuses alice approving her own change under %s (%j)', async (_label, accessKeyId) => {
    const answer = await gateway('/approve', { execution: executionArn }, accessKeyId);
    expect(answer).toMatchObject({ status: 403, body: { error: 'ApprovalRefused' } });
    expect(answer.body.message).toBe(`the requester ${user(accessKeyId)} cannot approve their own change`);
    await expectStillWaiting(executionArn, task);
    await expectUntouched(key);
  });

  it('takes an access key id with a Cyrillic а as another principal, who cannot approve as alice', async () => {
    const answer = await gateway('/approve', { execution: executionArn }, '\u0430lice');
    expect(answer).toMatchObject({ status: 403, body: { error: 'ApprovalRefused' } });
    const principal = /^(\S+) is not one of the allowed approvers/.exec(answer.body.message ?? '')?.[1] ?? '';
    expect(principal).toMatch(/^arn:aws:iam::111122223333:user\/[\w+=,.@-]+$/);
    expect(principal.toLowerCase()).not.toBe(user('alice'));
    await expectStillWaiting(executionArn, task);
    await expectUntouched(key);
  });

  it.each([
    ['a trailing space', 'alice '],
    ['a no-break space', 'alice\u00a0'],
  ])('refuses an access key id with %s as a malformed signature, deciding nothing', async (_l, accessKeyId) => {
    const answer = await gateway('/approve', { execution: executionArn }, accessKeyId);
    expect(answer).toMatchObject({ status: 400, body: { __type: 'IncompleteSignatureException' } });
    await expectStillWaiting(executionArn, task);
    await expectUntouched(key);
  });

  it('counts bob once whatever case he signs in: BOB is refused after bob approved', async () => {
    const other = await newKey();
    const arn = await startAsAlice('CHG-A2-BOB', other);
    await awaitRound(arn, 1);
    expect((await gateway('/approve', { execution: arn }, 'bob')).status).toBe(200);
    const round2 = await awaitRound(arn, 2);
    const again = await gateway('/approve', { execution: arn }, 'BOB');
    expect(again).toMatchObject({ status: 403, body: { error: 'ApprovalRefused' } });
    expect(again.body.message).toBe(`${user('BOB')} has already approved this change`);
    await expectStillWaiting(arn, round2);
    await expectUntouched(other);
  });
});

describe('3. self-approval through the web link', () => {
  let key: CreatedKey;
  let executionArn: string;
  let task: PendingApprovalTask;
  beforeAll(async () => {
    key = await newKey();
    executionArn = await startAsAlice('CHG-A3', key);
    task = await awaitRound(executionArn, 1);
  });

  it('sends alice, the requester and a configured approver, no link for her own change', async () => {
    const links = linksOf(executionArn);
    expect([...links.keys()].sort()).toEqual([user('bob'), user('carol')]);
    for (const [approver, [link]] of links) expect(link).toContain(`a=${encodeURIComponent(approver)}`);
    const general = readOutbox(dir).filter(
      (m) => m.attributes.executionId === executionArn && m.attributes.event !== 'ApprovalLink',
    );
    expect(general.length).toBeGreaterThan(0);
    for (const m of general) expect(m.message).not.toContain('/approval?');
  });

  it("refuses bob's link edited to name alice, and alice reading the link secret", async () => {
    const [bobs] = linksOf(executionArn).get(user('bob')) ?? [];
    const edited = (bobs as string).replace(encodeURIComponent(user('bob')), encodeURIComponent(user('alice')));
    const res = await fetch(edited);
    expect(res.status).toBe(403);
    expect(await res.text()).toContain('Nothing was decided');
    const denied = await errorOf(() =>
      secrets('alice').send(new GetSecretValueCommand({ SecretId: 'keymat-approval-links' })),
    );
    expect(denied.name).toBe('AccessDeniedException');
    await expectStillWaiting(executionArn, task);
    await expectUntouched(key);
  });

  // Found by this review and fixed: the local settings took a plain name as an approver (only the CDK context
  // checked), so a link made for "bob" approved as "bob" and deleted; they are now checked as in a deployment.
  it('refuses a plain name among the local approvers, as the synth of the deployed stack does', () => {
    expect(() => prepareWorkflow(endpoint, { approvalTimeoutSeconds: 60, approvers: ['bob', user('carol')] })).toThrow(
      /plain names cannot be authenticated/,
    );
  });
});

describe('4. a reject turned into an approve', () => {
  let key: CreatedKey;
  let executionArn: string;
  let task: PendingApprovalTask;
  let base: string;
  let query: string;
  beforeAll(async () => {
    key = await newKey();
    executionArn = await startAsAlice('CHG-A4', key);
    task = await awaitRound(executionArn, 1);
    const [link] = linksOf(executionArn).get(user('bob')) ?? [];
    [base, query] = (link as string).split('?') as [string, string];
  });

  const form = (url: string, body: string, method = 'POST') =>
    fetch(url, { method, headers: { 'content-type': 'application/x-www-form-urlencoded' }, body });

  it.each<[string, () => Promise<Response>, number]>([
    ['a GET of the link with &decision=approve appended', () => fetch(`${base}?${query}&decision=approve`), 400],
    [
      "the form's Reject posted with &decision=approve from the link",
      () => form(base, `${query}&decision=approve&comment=&decision=reject`),
      400,
    ],
    [
      "the form's Reject posted to the link with &decision=approve in its query",
      () => form(`${base}?${query}&decision=approve`, `${query}&comment=&decision=reject`),
      400,
    ],
    ['a POST with decision=approve in the query only', () => form(`${base}?decision=approve`, query), 400],
    [
      'a percent-encoded second decision',
      () => form(base, `${query}&%64ecision=approve&comment=&decision=reject`),
      400,
    ],
    ['a second approver', () => form(base, `${query}&a=${encodeURIComponent(user('carol'))}&decision=approve`), 400],
    ['a decision in another case', () => form(base, `${query}&decision=APPROVE`), 400],
    ['a PUT', () => form(base, `${query}&decision=approve`, 'PUT'), 405],
  ])('refuses %s, deciding nothing', async (_label, send, status) => {
    const res = await send();
    expect(res.status).toBe(status);
    const html = await res.text();
    expect(html).not.toContain('<form');
    if (status === 400) expect(html).toContain('Nothing was decided');
    await expectStillWaiting(executionArn, task);
    await expectUntouched(key);
  });

  it('still shows the plan and the form for the link as it was sent', async () => {
    const res = await fetch(`${base}?${query}`);
    expect(res.status).toBe(200);
    expect(await res.text()).toContain('<form method="post" action="?">');
    await expectStillWaiting(executionArn, task);
  });
});

describe('5. terminal injection', () => {
  const NASTY = 'fine\u001b[2K\r\u001b[32mSUCCEEDED\u001b[0m\n\u202eevil';

  it('strips control characters from comments given through the gateway', async () => {
    const key = await newKey();
    const executionArn = await startAsAlice('CHG-A5-GW', key);
    await awaitRound(executionArn, 1);
    expect((await gateway('/approve', { execution: executionArn, comment: NASTY }, 'bob')).status).toBe(200);
    await awaitRound(executionArn, 2);
    expect((await gateway('/reject', { execution: executionArn, comment: NASTY }, 'carol')).status).toBe(200);
    const end = await finished(executionArn);
    expect(end).toMatchObject({ status: 'FAILED', error: 'ApprovalRejected' });
    expect(hasUnsafeCharacters(end.cause ?? '')).toBe(false);
    expect(end.cause).toContain('rejected by arn:aws:iam::111122223333:user/carol (cli): fine [2K');
    const recorded = (await readHistory(sfnCall(sfn('mallory')), executionArn))
      .filter((e) => e.type === 'TaskSucceeded')
      .map((e) => JSON.parse(e.taskSucceededEventDetails?.output ?? '{}') as ApprovalResult);
    expect(recorded).toHaveLength(1);
    const comment = recorded[0]?.approvals[0]?.comment ?? '';
    expect(comment).toContain('SUCCEEDED');
    expect(hasUnsafeCharacters(comment)).toBe(false);
    await expectUntouched(key);
  });

  it('refuses a reason with control characters at the start', async () => {
    const key = await newKey();
    const answer = await gateway(
      '/changes',
      { keyId: key.keyArn, changeId: 'CHG-A5-REASON', reason: NASTY, waitSeconds: 0 },
      'alice',
    );
    expect(answer).toMatchObject({ status: 400, body: { error: 'InvalidInput' } });
  });

  it('status and history print a raw SendTaskFailure with escape sequences escaped', async () => {
    const key = await newKey();
    const executionArn = await startAsAlice('CHG-A5-RAW', key);
    const task = await awaitRound(executionArn, 1);
    await holder.send(
      new SendTaskFailureCommand({ taskToken: task.taskToken, error: 'ApprovalRejected\u001b[8m', cause: NASTY }),
    );
    const end = await finished(executionArn);
    expect(end.cause).toBe(NASTY);
    const env = { AWS_ACCESS_KEY_ID: 'bob', AWS_SECRET_ACCESS_KEY: 'local' };
    const [status, history] = await Promise.all([
      keymat(['status', 'keymat-CHG-A5-RAW', '--local', '--state-dir', dir], env),
      keymat(['history', 'keymat-CHG-A5-RAW', '--local', '--state-dir', dir], env),
    ]);
    expect(status.code).toBe(3);
    expect(history.code).toBe(0);
    for (const printed of [status.stdout, status.stderr, history.stdout, history.stderr]) {
      for (const raw of ['\u001b', '\r', '\u202e']) expect(printed).not.toContain(raw);
    }
    expect(status.stdout).toContain('cause: fine\\u001b[2K\\u000d\\u001b[32mSUCCEEDED');
    expect(history.stdout).toContain('ApprovalRejected\\u001b[8m: fine\\u001b[2K');
    await expectUntouched(key);
  });
});

describe('6. the local stack under attack', () => {
  let key: CreatedKey;
  let executionArn: string;
  let task: PendingApprovalTask;
  beforeAll(async () => {
    key = await newKey();
    executionArn = await startAsAlice('CHG-A6', key);
    task = await awaitRound(executionArn, 1);
  });

  const gatewayRaw = (body: string, contentLength = Buffer.byteLength(body)) =>
    [
      'POST /gateway/approve HTTP/1.1',
      'host: 127.0.0.1',
      'content-type: application/json',
      `authorization: ${signedBy('mallory')}`,
      `content-length: ${contentLength}`,
      'connection: close',
      '',
      body,
    ].join('\r\n');

  // `cut`: the client ends its side after the bytes, which is how a body cut short shows; otherwise it waits.
  it.each<{ label: string; bytes: string; status: number; says: string; cut?: true }>([
    { label: 'a malformed request line', bytes: 'NOT AN HTTP REQUEST\r\n\r\n', status: 400, says: 'could not be read' },
    {
      label: 'a body shorter than its Content-Length',
      bytes: jsonRequest('kms', 'TrentService.ListKeys', '{}', 64),
      status: 400,
      says: 'could not be read',
      cut: true,
    },
    {
      label: 'a non-JSON GetSecretValue',
      bytes: jsonRequest('secretsmanager', 'secretsmanager.GetSecretValue', 'not json'),
      status: 400,
      says: 'SerializationException',
    },
    { label: 'a non-JSON gateway body', bytes: gatewayRaw('{"execution":'), status: 400, says: 'InvalidRequest' },
    {
      label: 'a gateway body over 16 KB',
      bytes: gatewayRaw(JSON.stringify({ execution: 'x'.repeat(17_000) })),
      status: 413,
      says: 'RequestTooLarge',
    },
    {
      label: 'a Content-Length over the 1 MB limit',
      bytes: gatewayRaw('{}', 2_000_000),
      status: 413,
      says: 'RequestEntityTooLarge',
    },
    {
      label: 'an unsigned gateway request',
      bytes: 'POST /gateway/approve HTTP/1.1\r\nhost: 127.0.0.1\r\ncontent-length: 2\r\nconnection: close\r\n\r\n{}',
      status: 403,
      says: 'Forbidden',
    },
  ])('answers $label with a refusal and lives on', async ({ bytes, status, says, cut }) => {
    const answer = cut ? await rawExchange(endpoint, bytes) : await rawExchange(endpoint, bytes, { halfClose: false });
    expect(answer.status).toBe(status);
    expect(answer.text).toContain(says);
    const listed = await sfn('mallory').send(new ListExecutionsCommand({ stateMachineArn: stack.stateMachineArn }));
    expect(listed.executions?.length).toBeGreaterThan(0);
    await expectStillWaiting(executionArn, task);
  });

  it.each([
    ['alice', 'alice'],
    ['the public local credentials', LOCAL_CREDENTIALS.accessKeyId],
  ])('refuses GetSecretValue of the link secret to %s', async (_label, accessKeyId) => {
    const denied = await errorOf(() =>
      secrets(accessKeyId).send(
        new GetSecretValueCommand({
          SecretId: 'arn:aws:secretsmanager:us-east-1:111122223333:secret:keymat-approval-links',
        }),
      ),
    );
    expect(denied.name).toBe('AccessDeniedException');
  });

  it('refuses GenerateMac and VerifyMac on the attestation key to a normal user', async () => {
    const { KeyMetadata } = await kms('mallory').send(new DescribeKeyCommand({ KeyId: ATTESTATION_KEY_ALIAS }));
    const generate = await errorOf(() =>
      kms('mallory').send(
        new GenerateMacCommand({
          KeyId: KeyMetadata?.Arn,
          Message: Buffer.from('keymat-attestation/1\ndecision'),
          MacAlgorithm: 'HMAC_SHA_256',
        }),
      ),
    );
    expect(generate.name).toBe('AccessDeniedException');
    const verify = await errorOf(() =>
      kms('alice').send(
        new VerifyMacCommand({
          KeyId: KeyMetadata?.Arn,
          Message: Buffer.from('keymat-attestation/1\ndecision'),
          Mac: randomBytes(32),
          MacAlgorithm: 'HMAC_SHA_256',
        }),
      ),
    );
    expect(verify.name).toBe('AccessDeniedException');
  });

  it("takes one token per round: round 1's token cannot answer round 2, even with bob's real approval", async () => {
    const other = await newKey();
    const arn = await startAsAlice('CHG-A6-ROUNDS', other);
    const round1 = await awaitRound(arn, 1);
    expect((await gateway('/approve', { execution: arn }, 'bob')).status).toBe(200);
    const round2 = await awaitRound(arn, 2);
    expect(round2.taskToken).not.toBe(round1.taskToken);
    const late = await errorOf(() =>
      sendSuccess(round1.taskToken, {
        planDigest: round2.plan.digest,
        approvals: [...round2.approval.approvals, forged('carol', 2)],
      }),
    );
    expect(late.name).toBe('TaskDoesNotExist');
    await expectStillWaiting(arn, round2);
    await expectUntouched(other);
  });

  it.each<[string, (bob: Approval) => Approval[]]>([
    ["bob's round-1 approval again, as round 2", (bob) => [bob, { ...bob, round: 2 }]],
    ["bob's round-1 approval renamed to carol", (bob) => [bob, { ...bob, approver: user('carol'), round: 2 }]],
    ["bob's round-1 approval twice, as it is", (bob) => [bob, bob]],
    [
      "bob's approval with its comment changed",
      (bob) => [{ ...bob, comment: 'approved by carol too' }, forged('carol', 2)],
    ],
  ])('ends a round-2 answer made of %s ApprovalInvalid', async (_label, answer) => {
    const other = await newKey();
    const arn = await startAsAlice(`CHG-A6-REPLAY-${randomBytes(3).toString('hex')}`, other);
    await awaitRound(arn, 1);
    expect((await gateway('/approve', { execution: arn, comment: 'checked' }, 'bob')).status).toBe(200);
    const round2 = await awaitRound(arn, 2);
    const [bob] = round2.approval.approvals;
    await sendSuccess(round2.taskToken, { planDigest: round2.plan.digest, approvals: answer(bob as Approval) });
    expect(await finished(arn)).toMatchObject({ status: 'FAILED', error: 'ApprovalInvalid' });
    await expectUntouched(other);
  });

  it('ends a change whose key changed after the plan PlanDrifted, with two real approvals', async () => {
    const other = await newKey();
    const arn = await startAsAlice('CHG-A6-DRIFT', other);
    await awaitRound(arn, 1);
    await kms('alice').send(new DisableKeyCommand({ KeyId: other.keyArn }));
    expect((await gateway('/approve', { execution: arn }, 'bob')).status).toBe(200);
    await awaitRound(arn, 2);
    expect((await gateway('/approve', { execution: arn }, 'carol')).status).toBe(200);
    const end = await finished(arn);
    expect(end).toMatchObject({ status: 'FAILED', error: 'PlanDrifted' });
    expect(end.cause).toContain('keyState was "Enabled", now "Disabled"');
    await expectUntouched(other, 'Disabled');
  });
});

describe('7. an outsider veto', () => {
  it("refuses mallory's keymat reject, and lets the requester withdraw", async () => {
    const key = await newKey();
    const executionArn = await startAsAlice('CHG-A7', key);
    const task = await awaitRound(executionArn, 1);
    const vetoed = await keymat(['reject', 'keymat-CHG-A7', '--local', '--state-dir', dir, '--comment', 'no'], {
      AWS_ACCESS_KEY_ID: 'mallory',
      AWS_SECRET_ACCESS_KEY: 'local',
    });
    expect(vetoed.code).toBe(1);
    expect(vetoed.stderr).toContain(`keymat: ${user('mallory')} may not reject change CHG-A7`);
    const answered = stack.requestLog.read().filter((e) => e.service === 'gateway');
    expect(answered.at(-1)).toMatchObject({ operation: 'POST /reject', status: 403, error: 'RejectionRefused' });
    await expectStillWaiting(executionArn, task);

    const withdrawn = await gateway('/reject', { execution: executionArn, comment: 'opened by mistake' }, 'alice');
    expect(withdrawn).toMatchObject({ status: 200, body: { as: 'REQUESTER' } });
    expect(await finished(executionArn)).toMatchObject({
      status: 'FAILED',
      error: 'ApprovalRejected',
      cause: `withdrawn by the requester ${user('alice')} (cli): opened by mistake`,
    });
    await expectUntouched(key);
  });
});

describe('8. the Step Functions API, raw', () => {
  /** IAM's refusal of `action` to the IAM user `name`. */
  const denial = (name: string, action: string, resource: string) =>
    `User: ${user(name)} is not authorized to perform: states:${action} on resource: ${resource} because no identity-based policy allows the states:${action} action`;

  it("refuses an outsider's SendTaskFailure, StopExecution and StartExecution, and the change goes on to delete", async () => {
    const key = await newKey();
    const executionArn = await startAsAlice('CHG-A8', key);
    const task = await awaitRound(executionArn, 1);
    const machine = stack.stateMachineArn as string;
    const attempts: [string, string, () => Promise<unknown>][] = [
      [
        'SendTaskFailure',
        machine,
        () =>
          sfn('mallory').send(
            new SendTaskFailureCommand({
              taskToken: task.taskToken,
              error: 'ApprovalRejected',
              cause: `rejected by ${user('bob')} (cli): no`,
            }),
          ),
      ],
      [
        'StopExecution',
        executionArn,
        () => sfn('mallory').send(new StopExecutionCommand({ executionArn, error: 'Withdrawn', cause: 'by alice' })),
      ],
      [
        'StartExecution',
        machine,
        () =>
          sfn('mallory').send(
            new StartExecutionCommand({ stateMachineArn: machine, name: 'keymat-CHG-A8-SQUAT', input: '{}' }),
          ),
      ],
    ];
    for (const [action, resource, attempt] of attempts) {
      const denied = await errorOf(attempt);
      expect(denied.name).toBe('AccessDeniedException');
      expect(denied.message).toBe(denial('mallory', action, resource));
    }
    const refusals = stack.requestLog
      .read()
      .filter((e) => e.service === 'states' && e.caller === user('mallory') && e.error === 'AccessDeniedException');
    expect(refusals.map((e) => e.operation)).toEqual(['SendTaskFailure', 'StopExecution', 'StartExecution']);
    await expectStillWaiting(executionArn, task);
    // The change id mallory tried to squat is still free for its real change.
    await startAsAlice('CHG-A8-SQUAT', await newKey());

    expect((await gateway('/approve', { execution: executionArn }, 'bob')).status).toBe(200);
    await awaitRound(executionArn, 2);
    expect((await gateway('/approve', { execution: executionArn }, 'carol')).status).toBe(200);
    expect(await finished(executionArn)).toMatchObject({ status: 'SUCCEEDED' });
    expect(deletesOf(key.keyArn)).toHaveLength(1);
  });

  it.each([
    ['alice, the requester', 'alice'],
    ['bob, an allowed approver', 'bob'],
  ])('refuses %s a raw SendTaskSuccess and SendTaskHeartbeat: people decide through the gateway', async (_l, name) => {
    const key = await newKey();
    const executionArn = await startAsAlice(`CHG-A8-${name}`, key);
    const task = await awaitRound(executionArn, 1);
    const success = await errorOf(() =>
      sfn(name).send(new SendTaskSuccessCommand({ taskToken: task.taskToken, output: '{}' })),
    );
    expect(success.name).toBe('AccessDeniedException');
    const heartbeat = await errorOf(() => sfn(name).send(new SendTaskHeartbeatCommand({ taskToken: task.taskToken })));
    expect(heartbeat.message).toBe(denial(name, 'SendTaskHeartbeat', stack.stateMachineArn as string));
    await expectStillWaiting(executionArn, task);
    await expectUntouched(key);
  });
});

describe('beyond the review', () => {
  // Found by this review and fixed (ValidateOrigin takes a start attested in the last 15 minutes only, and every
  // approval is bound to its run's start time): neither ValidateOrigin nor DeleteMaterial looked at an `at`. Attestations
  // bind the execution name (starts) and the execution ARN (approvals), and Step Functions lets a name be used again
  // once the old execution's history is gone (90 days after it closed). A Standard execution `keymat-CHG-1` started
  // again with the old attested input (requester alice) and answered with the old approvals (they are in the old
  // execution's output and outcome message) passes both checks if the key is back in the planned state — after a
  // re-import of the same material, which gives the same KeyMaterialId and so the same plan digest. It needs
  // StartExecution and SendTaskSuccess, which only keymat's roles hold, so an IAM administrator who grants them to
  // himself deletes alone. The local stack never frees a name, so this test shows the first half: a start attested a
  // year ago is taken. Standing in for the old execution's input, it is attested with keymat's own access.
  it('refuses a start attested a year ago', async () => {
    const key = await newKey();
    const attestor = localAttestor(endpoint, DEFAULT_REGION, stack.internalAccess);
    const input = {
      keyId: key.keyArn,
      changeId: 'CHG-STALE',
      reason: 'retire',
      waitSeconds: 0,
      requestedBy: user('alice'),
    };
    const yearAgo = new Date(Date.now() - 365 * 86_400_000);
    const old = await attestStart(attestor, 'keymat-CHG-STALE', input, 'cli', yearAgo);
    const { executionArn } = await holder.send(
      new StartExecutionCommand({
        stateMachineArn: stack.stateMachineArn,
        name: 'keymat-CHG-STALE',
        input: JSON.stringify(old),
      }),
    );
    startedHere.add(executionArn as string);
    expect(await endOrApproval(executionArn as string)).toMatchObject({ status: 'FAILED', error: 'StartNotAttested' });
  });

  // Found by this review and fixed (the key's callers alone may change it): the local KMS guarded only
  // GenerateMac/VerifyMac on the attestation key (`macCallers`); any user could
  // DisableKey (or ScheduleKeyDeletion) it, after which every start and approval fails with a 500 until someone
  // enables it again. It fails closed (nothing can be approved, nothing deleted), but one user stops every change.
  it('refuses DisableKey on the attestation key to a normal user', async () => {
    const { KeyMetadata } = await kms('mallory').send(new DescribeKeyCommand({ KeyId: ATTESTATION_KEY_ALIAS }));
    try {
      const denied = await errorOf(() => kms('mallory').send(new DisableKeyCommand({ KeyId: KeyMetadata?.Arn })));
      expect(denied.name).toBe('AccessDeniedException');
    } finally {
      const { KeyMetadata: now } = await kms('mallory').send(new DescribeKeyCommand({ KeyId: ATTESTATION_KEY_ALIAS }));
      if (now?.KeyState === 'Disabled') await kms('mallory').send(new EnableKeyCommand({ KeyId: KeyMetadata?.Arn }));
    }
  });
});
