import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { localKmsClient } from '../../local/clients';
import { createExternalKey } from '../../local/kms/byok';
import { LocalStack } from '../../local/server';
import { readOutbox } from '../../local/sns';
import { prepareWorkflow } from '../../local/workflow';
it('plain', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'd-'));
  const stack = await LocalStack.start({ stateDir: dir, workflow: (at) => prepareWorkflow(at, { approvalTimeoutSeconds: 120, approvers: ['bob', 'arn:aws:iam::111122223333:user/carol'] }) });
  const key = await createExternalKey(localKmsClient(stack.endpoint), { materialDir: join(dir, 'byok') });
  const auth = (u: string) => `AWS4-HMAC-SHA256 Credential=${u}/20250101/us-east-1/lambda/aws4_request, SignedHeaders=host, Signature=0`;
  const r = await fetch(`${stack.endpoint}/gateway/changes`, { method: 'POST', headers: { authorization: auth('alice') }, body: JSON.stringify({ keyId: key.keyArn, changeId: 'P1', reason: 'r', waitSeconds: 0 }) });
  const { executionArn } = await r.json() as { executionArn: string };
  let links: { a?: string; link: string }[] = [];
  for (let i = 0; i < 100 && links.length < 2; i++) { await sleep(50); links = readOutbox(dir).filter((m) => m.attributes.event === 'ApprovalLink').map((m) => ({ a: m.attributes.approver, link: /(http\S+)$/.exec(m.message)?.[1] ?? '' })); }
  console.log(links.map((l) => l.a));
  const g = await fetch(`${stack.endpoint}/gateway/approve`, { method: 'POST', headers: { authorization: auth('bob') }, body: JSON.stringify({ execution: executionArn }) });
  console.log('gateway bob', g.status, await g.text());
  const bob = links.find((l) => l.a === 'bob')!.link;
  const [base, q] = bob.split('?');
  const p = await fetch(base!, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: `${q}&decision=approve` });
  console.log('page', p.status, (await p.text()).slice(-200));
  for (let i = 0; i < 100; i++) { await sleep(50); const d = await fetch(`${stack.endpoint}/`, { method: 'POST', headers: { 'x-amz-target': 'AWSStepFunctions.DescribeExecution', authorization: auth('x').replace('lambda', 'states'), 'content-type': 'application/x-amz-json-1.0' }, body: JSON.stringify({ executionArn }) }); const j = await d.json() as { status: string; output?: string; error?: string }; if (j.status !== 'RUNNING') { console.log(j.status, j.error, j.output); break; } }
  await stack.close();
}, 60000);
