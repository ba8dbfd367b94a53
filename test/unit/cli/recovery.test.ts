import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EXIT } from '../../../cli/output';
import { createExternalKey, localKmsClient, type CreatedKey } from '../../../local/kms/byok';
import { LocalStack } from '../../../local/services/server';
import { readOutbox } from '../../../local/state/store';
import { prepareWorkflow } from '../../../local/workflow/workflow';
import { waitFor } from '../../helpers/changes';
import { keymatInProcess } from '../../helpers/run-cli';

/**
 * What `keymat restore` and `keymat recovery prove` tell their user, in the order the change takes: a deletion's proof
 * is reimported and then the change asks for approvals; a restore is approved first and then imports the copy.
 */
let dir: string;
let stack: LocalStack;
let key: CreatedKey;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'keymat-recovery-cli-'));
  stack = await LocalStack.start({
    stateDir: dir,
    workflow: (endpoint) => prepareWorkflow(endpoint, { approvalTimeoutSeconds: 600, defaultWaitSeconds: 0 }),
  });
  key = await createExternalKey(localKmsClient(stack.endpoint), { materialDir: join(dir, 'byok') });
});
afterAll(async () => {
  await stack.close();
  rmSync(dir, { recursive: true, force: true });
});

const as = (user: string, ...args: string[]) =>
  keymatInProcess([...args, '--local', '--state-dir', dir], {
    AWS_ACCESS_KEY_ID: user,
    AWS_SECRET_ACCESS_KEY: 'local',
  });

/** The custodian's copy request an execution published, saved where `--parameters` reads it. */
async function copyRequest(execution: string): Promise<string> {
  const message = await waitFor(
    () =>
      readOutbox(dir).find(
        (m) => m.attributes.executionId?.endsWith(`:${execution}`) && m.attributes.event === 'RecoveryProofRequested',
      )?.message,
    `the copy request of ${execution}`,
  );
  const file = join(dir, `${execution}.txt`);
  writeFileSync(file, message);
  return file;
}

/** Approves `execution` as bob once it waits for its approval. */
async function approve(execution: string): Promise<void> {
  await waitFor(
    async () => ((await as('bob', 'pending')).stdout.includes(execution) ? true : undefined),
    'the approval',
  );
  expect(await as('bob', 'approve', execution)).toMatchObject({ code: EXIT.ok });
}

async function finished(execution: string): Promise<string> {
  return waitFor(async () => {
    const r = await as('bob', 'status', execution, '--json');
    const { status } = JSON.parse(r.stdout) as { status: string };
    return status === 'RUNNING' ? undefined : status;
  }, `the end of ${execution}`);
}

it('says a deletion reimports the proof and then asks for approvals, and a restore is approved before its copy', async () => {
  const deletion = 'keymat-CHG-PROOF';
  expect(
    await as(
      'alice',
      'start',
      '--key-id',
      key.keyArn,
      '--change-id',
      'CHG-PROOF',
      '--reason',
      'r',
      '--wait-seconds',
      '0',
    ),
  ).toMatchObject({ code: EXIT.ok });
  const proof = await as(
    'dave',
    'recovery',
    'prove',
    deletion,
    '--parameters',
    await copyRequest(deletion),
    '--material',
    key.materialFile as string,
  );
  expect(proof.code).toBe(EXIT.ok);
  expect(proof.stdout.split('\n')).toEqual([
    expect.stringMatching(
      new RegExp(
        `^submitted a copy of material ${key.keyMaterialId} as arn:aws:iam::111122223333:user/dave \\(SHA-256 [0-9a-f]{64}\\)$`,
      ),
    ),
    `keymat reimports it into the key to prove the deletion can be undone, then asks for the approvals: see keymat status --local ${deletion}`,
    '',
  ]);
  await approve(deletion);
  expect(await finished(deletion)).toBe('SUCCEEDED');

  const restored = await as(
    'alice',
    'restore',
    '--key-id',
    key.keyArn,
    '--key-material-id',
    key.keyMaterialId as string,
    '--change-id',
    'CHG-PROOF-restore',
  );
  const restore = `arn:aws:states:us-east-1:111122223333:execution:keymat-deletion:keymat-CHG-PROOF-restore`;
  expect(restored).toEqual({
    code: EXIT.ok,
    stdout: `started ${restore}\nit waits for its approvals first (keymat pending); once approved, it publishes a request for the copy to the approval topic, and a custodian submits it with keymat recovery prove: see keymat status --local ${restore}\n`,
    stderr: '',
  });
  await approve('keymat-CHG-PROOF-restore');
  const copy = await as(
    'dave',
    'recovery',
    'prove',
    'keymat-CHG-PROOF-restore',
    '--parameters',
    await copyRequest('keymat-CHG-PROOF-restore'),
    '--material',
    key.materialFile as string,
  );
  expect(copy.stdout.split('\n').slice(1)).toEqual([
    'the approved restore imports it now: see keymat status --local keymat-CHG-PROOF-restore',
    '',
  ]);
  expect(await finished('keymat-CHG-PROOF-restore')).toBe('SUCCEEDED');
});
