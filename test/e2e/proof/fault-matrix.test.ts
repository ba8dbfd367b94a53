import {
  DescribeKeyCommand,
  ListKeyRotationsCommand,
  ReplicateKeyCommand,
  ScheduleKeyDeletionCommand,
  type KMSClient,
} from '@aws-sdk/client-kms';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { localApprover } from '../../../local/workflow/approver';
import { createExternalKey, localKmsClient, type CreatedKey } from '../../../local/kms/byok';
import type { FaultFile } from '../../../local/kms/faults';
import { LocalStack } from '../../../local/services/server';
import type { RequestLogEntry } from '../../../local/services/request-log';
import { type LocalRunResult, type LocalWorkflow, openLocalWorkflow } from '../../../local/workflow/workflow';
import { keySupply, seedExternalKeys, type SeededKeyOptions } from '../../helpers/seeded-keys';
import { printTable } from '../../helpers/table';

/**
 * The fault matrix: every KMS operation the workflow uses × every fault kind the emulator injects, run through the
 * synthesized definition. Each row states the expected outcome; every row also checks the invariants: no deletion
 * before the approval, no deletion of anything but the approved material, no success without the verified state.
 * A new case is one line.
 */
type Expected = { status: 'SUCCEEDED'; output: 'DELETED' } | { status: 'FAILED'; error: string };
/** A case's key: `expires` gives its material a ValidTo, so a deletion has expiry fields to drop or keep. */
type KeyOptions = { expires?: boolean };
const ok: Expected = { status: 'SUCCEEDED', output: 'DELETED' };
const failed = (error: string): Expected => ({ status: 'FAILED', error });

const READS = ['DescribeKey', 'ListKeyRotations', 'ListAliases', 'GetKeyLastUsage'];
const OPERATIONS = [...READS, 'DeleteImportedKeyMaterial'];
const error500 = (operation: string, count: number): FaultFile => ({
  rules: [{ kind: 'error', operation, error: 'KMSInternalException', count }],
});

/**
 * The retry paths that recognise a deletion by the key's post-state, each with the material's ExpirationModel and
 * ValidTo dropped by the deletion (as AWS does) and kept (the `keepExpiryOnDeletion` fault): all end DELETED.
 */
const RETRY_PATHS: [operation: string, path: string, rules: FaultFile['rules']][] = [
  [
    'DeleteImportedKeyMaterial',
    'applied, then answered 500',
    [{ kind: 'applyThenFail', operation: 'DeleteImportedKeyMaterial', count: 1 }],
  ],
  [
    'DeleteImportedKeyMaterial',
    'latency past the task timeout',
    [{ kind: 'latency', operation: 'DeleteImportedKeyMaterial', ms: 1500 }],
  ],
  ['all reads', 'stale reads (3) after the deletion', [{ kind: 'staleReads', calls: 3 }]],
];
const EXPIRY_CASES = RETRY_PATHS.flatMap(([op, path, rules]) =>
  (['dropped', 'kept'] as const).map((fields): [string, string, FaultFile, Expected, KeyOptions] => [
    op,
    `${path}, expiry fields ${fields} on deletion`,
    { rules: fields === 'kept' ? [...rules, { kind: 'keepExpiryOnDeletion' }] : rules },
    ok,
    { expires: true },
  ]),
);

const CASES: Case[] = [
  ...OPERATIONS.map((op): [string, string, FaultFile, Expected] => [
    op,
    '500 within the retry budget (2)',
    error500(op, 2),
    ok,
  ]),
  ...OPERATIONS.map((op): [string, string, FaultFile, Expected] => [
    op,
    '500 beyond the retry budget',
    error500(op, 99),
    failed('KMSInternalException'),
  ]),
  ...OPERATIONS.map((op): [string, string, FaultFile, Expected] => [
    op,
    'throttling (2)',
    { rules: [{ kind: 'error', operation: op, error: 'ThrottlingException', count: 2 }] },
    ok,
  ]),
  ...OPERATIONS.map((op): [string, string, FaultFile, Expected] => [
    op,
    'latency past the task timeout',
    { rules: [{ kind: 'latency', operation: op, ms: 1500 }] },
    // A slow deletion is retried; the retry finds its own deletion applied. A slow read never completes a task.
    op === 'DeleteImportedKeyMaterial' ? ok : failed('States.Timeout'),
  ]),
  ['all reads', 'stale reads (3) after the deletion', { rules: [{ kind: 'staleReads', calls: 3 }] }, ok],
  [
    'all reads',
    'stale reads that never end',
    { rules: [{ kind: 'staleReads', calls: 10_000 }] },
    failed('VerificationFailed'),
  ],
  [
    'DeleteImportedKeyMaterial',
    'applied, then answered 500',
    { rules: [{ kind: 'applyThenFail', operation: 'DeleteImportedKeyMaterial', count: 1 }] },
    ok,
  ],
  ...EXPIRY_CASES,
];

type Case = [operation: string, fault: string, faults: FaultFile, expected: Expected, key?: KeyOptions];

/** A local stack with the workflow on it (a 1 s task timeout, so that "latency past the task timeout" takes seconds). */
interface MatrixStack {
  dir: string;
  stack: LocalStack;
  workflow: LocalWorkflow;
  kms: KMSClient;
  /** A fresh key for each case, seeded before the stack started: one supply of each kind of key. */
  keys: { plain: { next: () => CreatedKey }; expiring: { next: () => CreatedKey } };
}

/** A stack seeded with a key for each of `cases`. */
async function openMatrixStack(cases: Case[]): Promise<MatrixStack> {
  const dir = mkdtempSync(join(tmpdir(), 'keymat-matrix-'));
  const expiring = cases.filter(([, , , , key]) => key?.expires).length;
  const validTo = new Date(Date.now() + 30 * 86_400_000);
  const seed = (options: SeededKeyOptions[]) => keySupply(seedExternalKeys(dir, join(dir, 'byok'), options));
  const keys = {
    plain: seed(Array.from({ length: cases.length - expiring }, () => ({}))),
    expiring: seed(Array.from({ length: expiring }, () => ({ validTo }))),
  };
  const stack = await LocalStack.start({ stateDir: dir });
  // The faults are the deletion's: no recovery proof, whose RSA-4096 import parameters alone can outlast a 1 s task.
  const workflow = await openLocalWorkflow({
    stateDir: dir,
    approvalTimeoutSeconds: 3600,
    taskTimeoutSeconds: 1,
    recoveryProof: 'off',
  });
  return { dir, stack, workflow, kms: localKmsClient(stack.endpoint), keys };
}

async function closeMatrixStack(m: MatrixStack): Promise<void> {
  await m.stack.close();
  rmSync(m.dir, { recursive: true, force: true });
}

/** What a case's run left behind: its outcome, the deletions it sent and the key's state after it. */
interface Outcome {
  key: CreatedKey;
  result: LocalRunResult;
  deletes: RequestLogEntry[];
  state: string | undefined;
}

/** Runs one case on the stack, with the case's faults set for the run only. */
async function runCase(m: MatrixStack, [, , faults, , keyOptions = {}]: Case, changeId: string): Promise<Outcome> {
  const key = (keyOptions.expires ? m.keys.expiring : m.keys.plain).next();
  const logStart = m.stack.requestLog.read().length;
  m.stack.setFaults(faults);
  let result: LocalRunResult;
  try {
    result = await m.workflow.run(
      { keyId: key.keyArn, changeId, reason: 'fault matrix', requestedBy: 'alice', waitSeconds: 0 },
      { decide: localApprover('auto', 'bob', { irreversible: true }), waitMs: 1, retryIntervalMs: 1 },
    );
  } finally {
    m.stack.setFaults({ rules: [] });
  }
  // Let a timed-out attempt's slow call land before looking at the log.
  if (faults.rules.some((r) => r.kind === 'latency')) await new Promise((r) => setTimeout(r, 1600));
  const deletes = m.stack.requestLog
    .read()
    .slice(logStart)
    .filter((e) => e.operation === 'DeleteImportedKeyMaterial');
  const state = (await m.kms.send(new DescribeKeyCommand({ KeyId: key.keyId }))).KeyMetadata?.KeyState;
  return { key, result, deletes, state };
}

const describeOutcome = (r: LocalRunResult) =>
  r.status === 'SUCCEEDED' ? `SUCCEEDED ${(r.output as { status: string }).status}` : `${r.status} ${r.error}`;

/** The stated outcome, and the invariants whatever the outcome. */
function check([operation, fault, , expected]: Case, { key, result, deletes, state }: Outcome): void {
  rows.push([
    operation,
    fault,
    expected.status === 'SUCCEEDED' ? 'SUCCEEDED DELETED' : `FAILED ${expected.error}`,
    describeOutcome(result),
  ]);

  // The stated outcome (the received side shows the cause when it differs).
  expect({ status: result.status, error: result.error, cause: result.cause }).toMatchObject(
    expected.status === 'SUCCEEDED' ? { status: 'SUCCEEDED' } : { status: 'FAILED', error: expected.error },
  );
  if (expected.status === 'SUCCEEDED') expect(result.output).toMatchObject({ status: expected.output });

  // Invariants, whatever the outcome.
  const approvedAt = result.history.find((e) => e.type === 'TaskSucceeded' && e.state === 'RequestApproval')?.timestamp;
  for (const d of deletes) {
    expect(approvedAt).toBeDefined();
    expect(d.time >= (approvedAt as string)).toBe(true);
    expect({ keyId: d.keyId, keyMaterialId: d.keyMaterialId }).toEqual({
      keyId: key.keyArn,
      keyMaterialId: key.keyMaterialId,
    });
  }
  if (result.status === 'SUCCEEDED') {
    expect(result.output).toMatchObject({ keyStateAfter: 'PendingImport' });
    expect(state).toBe('PendingImport');
    expect(result.history.some((e) => e.type === 'StateExited' && e.state === 'VerifyPendingImport')).toBe(true);
  }
  if (!approvedAt) expect(state).toBe('Enabled');
}

/**
 * The latency cases spend their seconds waiting out task timeouts, with the processor idle: each runs on a stack of
 * its own (faults are per stack), all of them at once from the start of the file, while the other cases run one
 * after another on the shared stack. Each case's test then checks its settled run.
 */
const isSlow = ([, , faults]: Case) => faults.rules.some((r) => r.kind === 'latency');
const QUICK = CASES.filter((c) => !isSlow(c));
const SLOW = CASES.filter(isSlow);

let shared: MatrixStack;
const rows: string[][] = [];
let slowRuns: Promise<{ outcome: Outcome } | { error: unknown }>[] = [];

beforeAll(async () => {
  slowRuns = SLOW.map(async (c, i) => {
    const own = await openMatrixStack([c]);
    try {
      return { outcome: await runCase(own, c, `CHG-slow-${i}`) };
    } catch (error) {
      return { error };
    } finally {
      await closeMatrixStack(own);
    }
  });
  shared = await openMatrixStack(QUICK);
});
afterAll(async () => {
  await Promise.all(slowRuns);
  printTable(
    'Fault matrix (the synthesized workflow on the local stack)',
    ['operation', 'fault', 'expected', 'outcome'],
    rows,
  );
  await closeMatrixStack(shared);
});

it.each(QUICK.map(([op, fault], i): [string, string, number] => [op, fault, i]))(
  '%s × %s',
  async (_operation, _fault, i) => {
    const c = QUICK[i] as Case;
    check(c, await runCase(shared, c, `CHG-${i}`));
  },
  60_000,
);

it('refuses a multi-Region primary that is PendingReplicaDeletion, and deletes nothing', async () => {
  const primary = await createExternalKey(shared.kms, { materialDir: join(shared.dir, 'byok'), multiRegion: true });
  await shared.kms.send(new ReplicateKeyCommand({ KeyId: primary.keyId, ReplicaRegion: 'eu-west-1' }));
  await shared.kms.send(new ScheduleKeyDeletionCommand({ KeyId: primary.keyId, PendingWindowInDays: 7 }));
  expect((await shared.kms.send(new DescribeKeyCommand({ KeyId: primary.keyId }))).KeyMetadata?.KeyState).toBe(
    'PendingReplicaDeletion',
  );
  const logStart = shared.stack.requestLog.read().length;
  const result = await shared.workflow.run(
    {
      keyId: primary.keyArn,
      changeId: 'CHG-replica-deletion',
      reason: 'fault matrix',
      requestedBy: 'alice',
      waitSeconds: 0,
    },
    { decide: localApprover('auto', 'bob', { irreversible: true }), waitMs: 1, retryIntervalMs: 1 },
  );
  expect({ status: result.status, error: result.error }).toEqual({ status: 'FAILED', error: 'KeyPendingDeletion' });
  const operations = shared.stack.requestLog
    .read()
    .slice(logStart)
    .map((e) => e.operation);
  expect(operations).not.toContain('DeleteImportedKeyMaterial');
  const [entry] =
    (
      await shared.kms.send(
        new ListKeyRotationsCommand({ KeyId: primary.keyId, IncludeKeyMaterial: 'ALL_KEY_MATERIAL' }),
      )
    ).Rotations ?? [];
  expect(entry?.ImportState).toBe('IMPORTED');
}, 60_000);

it.each(SLOW.map(([op, fault], i): [string, string, number] => [op, fault, i]))(
  '%s × %s',
  async (_operation, _fault, i) => {
    const settled = await (slowRuns[i] as (typeof slowRuns)[number]);
    if ('error' in settled) throw settled.error;
    check(SLOW[i] as Case, settled.outcome);
  },
  60_000,
);
