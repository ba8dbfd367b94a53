import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { approvalTask } from '../../core/history';
import { signLink } from '../../core/links';
import { history, localTarget, startChange, type Target } from '../../cli/operations';
import type { CreatedKey } from '../../local/kms/byok';
import { readRequestLog } from '../../local/state/store';
import { LocalStack } from '../../local/services/server';
import { prepareWorkflow } from '../../local/workflow/workflow';
import { readOutbox } from '../../local/state/store';
import { keySupply, seedExternalKeys } from '../helpers/seeded-keys';

/** The approval page on the local stack: the same handler code as behind the Function URL in AWS. */
let dir: string;
let stack: LocalStack;
let alice: Target;
const user = (name: string) => `arn:aws:iam::111122223333:user/${name}`;
/** The allowed approvers who get a link: all but the requester, alice. */
const LINKED = ['bob', 'carol'];
/**
 * A key with imported material for each change, seeded into the state before the stack starts: an import makes the
 * local KMS generate an RSA wrapping key pair (costly CPU), and the KMS suites prove what an import leaves.
 */
let keys: { next: () => CreatedKey };

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'keymat-page-'));
  keys = keySupply(
    seedExternalKeys(
      dir,
      join(dir, 'byok'),
      Array.from({ length: 10 }, () => ({})),
    ),
  );
  stack = await LocalStack.start({
    stateDir: dir,
    workflow: (endpoint) =>
      prepareWorkflow(endpoint, {
        recoveryProof: 'off',
        approvalTimeoutSeconds: 120,
        approvers: [user('bob'), user('carol'), user('alice')],
      }),
  });
  alice = localTarget(dir, { accessKeyId: 'alice', secretAccessKey: 'x' });
}, 60_000);
afterAll(async () => {
  await stack.close();
  rmSync(dir, { recursive: true, force: true });
});

async function change(
  changeId: string,
  reason = 'retire',
): Promise<{ executionArn: string; keyArn: string; links: Record<string, string> }> {
  const key = keys.next();
  const { executionArn } = await startChange(alice, { keyId: key.keyArn, changeId, reason, waitSeconds: 0 });
  for (let i = 0; i < 50; i++) {
    const linkMessages = readOutbox(dir).filter(
      (m) => m.attributes.executionId === executionArn && m.attributes.event === 'ApprovalLink',
    );
    const links = Object.fromEntries(
      linkMessages.map((m) => [m.attributes.approver?.split('/').pop(), /(http\S+)$/.exec(m.message)?.[1] as string]),
    );
    // Each link is a message of its own, published one after the other: wait for every approver's.
    if (LINKED.every((name) => links[name])) return { executionArn, keyArn: key.keyArn, links };
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error('no approval request');
}
const waiting = async (executionArn: string) => approvalTask(await history(alice, executionArn))?.pending === true;
const post = (link: string, fields: Record<string, string>) =>
  fetch(link.split('?')[0] as string, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: `${link.split('?')[1]}&${new URLSearchParams(fields).toString()}`,
  });
const secret = () => readFileSync(join(dir, 'approval-link-secret'), 'utf8');
const deletes = (keyArn: string) =>
  readRequestLog(dir).filter((e) => e.operation === 'DeleteImportedKeyMaterial' && e.keyId === keyArn);

it('sends each allowed approver but the requester a message with their own link only', async () => {
  const { executionArn, links } = await change('CHG-W1');
  expect(Object.keys(links).sort()).toEqual(['bob', 'carol']);
  const messages = readOutbox(dir).filter((m) => m.attributes.executionId === executionArn);
  const bobs = messages.find((m) => m.attributes.approver === user('bob'))?.message ?? '';
  expect(bobs).toContain(links.bob);
  expect(bobs).not.toContain(links.carol);
  const general = messages.find((m) => m.attributes.event === 'ApprovalRequested')?.message ?? '';
  expect(general).not.toContain('/approval?');
});

it('a GET, as a mail scanner sends it, shows the plan as text and decides nothing', async () => {
  const { executionArn, links } = await change('CHG-W2', '<script>alert(1)</script> retire');
  const res = await fetch(links.bob as string);
  expect(res.status).toBe(200);
  const html = await res.text();
  expect(html).toContain('&lt;script&gt;alert(1)&lt;/script&gt; retire');
  expect(html).not.toContain('<script>');
  expect(html).toContain(`This link was sent to <strong>${user('bob')}</strong>`);
  expect(await waiting(executionArn)).toBe(true);
});

it.each([
  ['a tampered signature', (l: string) => l.replace(/s=.{4}/, 's=AAAA'), 403],
  ['a link edited to another approver', (l: string) => l.replace('user%2Fbob', 'user%2Fcarol'), 403],
])('refuses %s and decides nothing', async (_l, edit, status) => {
  const { executionArn, links } = await change(`CHG-W3${status}${_l.length}`);
  const res = await post(edit(links.bob as string), { decision: 'approve' });
  expect(res.status).toBe(status);
  expect(await res.text()).toContain('Nothing was decided');
  expect(await waiting(executionArn)).toBe(true);
});

it('refuses a link with a decision appended, and a POST that repeats the decision, deciding nothing', async () => {
  const { executionArn, links } = await change('CHG-W8');
  const [base, query] = (links.bob as string).split('?') as [string, string];
  const appended = await fetch(`${base}?${query}&decision=approve`);
  expect(appended.status).toBe(400);
  expect(await appended.text()).not.toContain('<form');
  const twice = await fetch(base, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: `${query}&decision=approve&comment=&decision=reject`,
  });
  expect(twice.status).toBe(400);
  expect(await twice.text()).toContain('Nothing was decided');
  expect(await waiting(executionArn)).toBe(true);
  expect((await fetch(links.bob as string)).status).toBe(200);
});

it('refuses an expired link with 410', async () => {
  const { executionArn } = await change('CHG-W4');
  const expired = signLink(`${stack.endpoint}/approval`, secret(), {
    executionArn,
    approver: user('bob'),
    expiresAt: Math.floor(Date.now() / 1000) - 1,
  });
  expect((await post(expired, { decision: 'approve' })).status).toBe(410);
  expect(await waiting(executionArn)).toBe(true);
});

it.each([
  ['the requester', 'alice', 'cannot approve their own change'],
  ['an approver outside the allowed list', 'dave', 'is not one of the allowed approvers'],
])('refuses %s, even with a validly signed link', async (_l, name, says) => {
  const { executionArn } = await change(`CHG-W5${name}`);
  const link = signLink(`${stack.endpoint}/approval`, secret(), {
    executionArn,
    approver: user(name),
    expiresAt: Math.floor(Date.now() / 1000) + 60,
  });
  const res = await post(link, { decision: 'approve' });
  expect(res.status).toBe(403);
  expect(await res.text()).toContain(says);
  expect(await waiting(executionArn)).toBe(true);
});

it('the POST from the page approves; replaying it is refused', async () => {
  const { executionArn, keyArn, links } = await change('CHG-W6');
  const res = await post(links.carol as string, { decision: 'approve', comment: 'looks right' });
  expect(res.status).toBe(200);
  expect(await res.text()).toContain(`${user('carol')} approved change CHG-W6`);
  const replay = await post(links.carol as string, { decision: 'approve' });
  expect(replay.status).toBe(409);
  for (let i = 0; i < 50 && deletes(keyArn).length === 0; i++) await new Promise((r) => setTimeout(r, 100));
  expect(deletes(keyArn)).toHaveLength(1);
  const events = await history(alice, executionArn);
  const decided = approvalTask(events);
  expect(decided?.pending).toBe(false);
});

it('a rejection from the page ends ApprovalRejected with no deletion', async () => {
  const { executionArn, keyArn, links } = await change('CHG-W7');
  expect((await post(links.bob as string, { decision: 'reject', comment: 'not yet' })).status).toBe(200);
  let status = '';
  for (let i = 0; i < 50; i++) {
    const events = await history(alice, executionArn);
    const failed = events.find((e) => e.type === 'ExecutionFailed');
    if (failed) {
      status = failed.executionFailedEventDetails?.error ?? '';
      break;
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  expect(status).toBe('ApprovalRejected');
  expect(deletes(keyArn)).toEqual([]);
});
