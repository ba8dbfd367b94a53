import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type Browser } from 'playwright-core';
import { approvalTask } from '../../../core/history';
import { describe as describeExecution, history, localTarget, startChange, type Target } from '../../../cli/operations';
import { createExternalKey, localKmsClient } from '../../../local/kms/byok';
import { LocalStack } from '../../../local/services/server';
import { prepareWorkflow } from '../../../local/workflow/workflow';
import { readOutbox } from '../../../local/state/store';

/** A person in a browser (Debian's Chromium, installed by .ci/run) opens the link from the outbox and approves. */
let dir: string;
let stack: LocalStack;
let browser: Browser;
let alice: Target;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'keymat-browser-'));
  stack = await LocalStack.start({
    stateDir: dir,
    workflow: (endpoint) =>
      prepareWorkflow(endpoint, {
        recoveryProof: 'off',
        approvalTimeoutSeconds: 120,
        approvers: ['arn:aws:iam::111122223333:user/bob'],
      }),
  });
  alice = localTarget(dir, { accessKeyId: 'alice', secretAccessKey: 'x' });
  browser = await chromium.launch({
    executablePath: '/usr/bin/chromium',
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-component-update',
      '--no-first-run',
    ],
  });
}, 60_000);
afterAll(async () => {
  await browser?.close();
  await stack.close();
  rmSync(dir, { recursive: true, force: true });
});

it('shows the plan on GET, keeps the execution waiting, and approves on the POST from the page', async () => {
  const key = await createExternalKey(localKmsClient(stack.endpoint), { materialDir: join(dir, 'byok') });
  const { executionArn } = await startChange(alice, {
    keyId: key.keyArn,
    changeId: 'CHG-B1',
    reason: 'retire <b>now</b>',
    waitSeconds: 0,
  });
  let link: string | undefined;
  for (let i = 0; i < 50 && !link; i++) {
    const request = readOutbox(dir).find(
      (m) => m.attributes.executionId === executionArn && m.attributes.approver?.endsWith('user/bob'),
    );
    link = request && /(http\S+)$/.exec(request.message)?.[1];
    if (!link) await new Promise((r) => setTimeout(r, 100));
  }
  const page = await browser.newPage();
  await page.goto(link as string);
  const plan = await page.locator('#plan').textContent();
  expect(plan).toContain(key.keyArn);
  expect(plan).toContain('Reason: retire <b>now</b>');
  expect(await page.locator('#plan b').count()).toBe(0);
  expect(approvalTask(await history(alice, executionArn))?.pending).toBe(true);

  await page.fill('input[name="comment"]', 'approved in the browser');
  await Promise.all([page.waitForURL(/approval/), page.click('button[value="approve"]')]);
  expect(await page.locator('h1').textContent()).toBe('Approved');

  let status: string | undefined;
  for (let i = 0; i < 100 && status !== 'SUCCEEDED'; i++) {
    status = (await describeExecution(alice, executionArn)).status;
    if (status !== 'SUCCEEDED') await new Promise((r) => setTimeout(r, 100));
  }
  const done = await describeExecution(alice, executionArn);
  expect(done.status).toBe('SUCCEEDED');
  expect(JSON.parse(done.output as string)).toMatchObject({
    status: 'DELETED',
    approvals: [{ approver: 'arn:aws:iam::111122223333:user/bob', channel: 'web', comment: 'approved in the browser' }],
  });
});
