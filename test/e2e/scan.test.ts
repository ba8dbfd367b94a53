import { CreateKeyCommand, KMSClient, ScheduleKeyDeletionCommand, TagResourceCommand } from '@aws-sdk/client-kms';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { localTarget, type Target } from '../../cli/operations';
import type { ScanLimits } from '../../core/scan-policy';
import { scan, type ScanSummary } from '../../functions/expiry-scan/scan';
import { changeStarter } from '../../functions/expiry-scan/start';
import { kmsAttestor } from '../../functions/runtime/attestor';
import { localClientConfig } from '../../local/services/clients';
import {
  createExternalKey,
  importKeyMaterial,
  localKmsClient,
  newKeyMaterial,
  type CreatedKey,
} from '../../local/kms/byok';
import { LocalStack } from '../../local/services/server';
import { prepareWorkflow } from '../../local/workflow/workflow';
import { keymat } from '../helpers/run-cli';
import { seedExternalKeys } from '../helpers/seeded-keys';
import { kmsCall, sfnCall } from '../../functions/runtime/aws';
import { SFNClient } from '@aws-sdk/client-sfn';
import { ChangeClient } from '../../core/change-client';
import { taskCredentials } from '../../local/services/internal-access';

/**
 * The expiry scan against the served local stack, with keys of every kind: in-process as the scheduled scan runs it
 * (attested with keymat's own access), and as `keymat scan`, which starts through the gateway as the operator.
 */
let dir: string;
let stack: LocalStack;
let target: Target;
/** The SDK's KMS client as the public local user, for what the port does not call (creating, tagging keys). */
let kms: KMSClient;
/** The scheduled scan's starter: the scan function's own identity, MACing each start with the attestation key. */
const scanStarter = () => {
  const internal = stack.internalAccess;
  const as = localClientConfig(stack.endpoint, undefined, taskCredentials(internal.credentials, 'ExpiryScan'));
  const kms = new KMSClient(as);
  const sfn = new SFNClient(as);
  const changes = new ChangeClient({ sfn: sfnCall(sfn), stateMachineArn: target.stateMachineArn });
  return changeStarter(changes, kmsAttestor(kmsCall(kms), internal.attestationKeyArn));
};
const DAY = 86_400_000;
const policy = { expiresWithinDays: 30, retireTag: 'keymat:retire-on' };
const limits = (maxChanges = 10): ScanLimits => ({
  maxChanges,
  concurrency: 4,
  rates: { ListKeys: 50, DescribeKey: 500, ListKeyRotations: 100, ListResourceTags: 100 },
});
const expected: Record<string, string> = {}; // keyMaterialId → rule
const notExpected: string[] = [];

const run = (dryRun = false, maxChanges = 10): Promise<ScanSummary> => {
  const now = new Date();
  return scan({ kms: target.kms, now, start: scanStarter() }, policy, limits(maxChanges), dryRun);
};
const executions = () =>
  stack.requestLog.read().filter((e) => e.operation === 'StartExecution' && e.status === 200).length;
const mutatingKms = () =>
  stack.requestLog.read().filter((e) => e.service === 'kms' && !/^(Describe|List|Get)/.test(e.operation)).length;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'keymat-scan-'));
  const inDays = (d: number) => new Date(Date.now() + d * DAY);
  const [noExpiry, soon, later, several, expired, doomed, tagged, taggedLater] = seedExternalKeys(
    dir,
    join(dir, 'byok'),
    [
      {},
      { validTo: inDays(5) },
      { validTo: inDays(200) },
      { validTo: inDays(200) },
      { validTo: new Date(Date.now() + 1500) },
      { validTo: inDays(3) },
      {},
      {},
    ],
  ) as [CreatedKey, CreatedKey, CreatedKey, CreatedKey, CreatedKey, CreatedKey, CreatedKey, CreatedKey];
  stack = await LocalStack.start({
    stateDir: dir,
    workflow: (endpoint) => prepareWorkflow(endpoint, { recoveryProof: 'off', approvalTimeoutSeconds: 600 }),
  });
  target = localTarget(dir);
  kms = localKmsClient(stack.endpoint);

  notExpected.push(noExpiry.keyMaterialId!);
  expected[soon.keyMaterialId!] = 'expires-within';
  notExpected.push(later.keyMaterialId!);

  // Several materials, each with its own ValidTo: only the pending one expires soon (KeyMetadata.ValidTo would hide it).
  const pending = await importKeyMaterial(kms, several.keyId, newKeyMaterial(), {
    importType: 'NEW_KEY_MATERIAL',
    validTo: inDays(10),
  });
  expected[pending.keyMaterialId] = 'expires-within';
  notExpected.push(several.keyMaterialId!);

  notExpected.push(expired.keyMaterialId!);

  await kms.send(new CreateKeyCommand({ Description: 'AWS_KMS origin' }));

  await kms.send(new ScheduleKeyDeletionCommand({ KeyId: doomed.keyId, PendingWindowInDays: 7 }));
  notExpected.push(doomed.keyMaterialId!);

  await kms.send(
    new TagResourceCommand({ KeyId: tagged.keyId, Tags: [{ TagKey: 'keymat:retire-on', TagValue: '2026-01-01' }] }),
  );
  expected[tagged.keyMaterialId!] = 'retire-tag';

  await kms.send(
    new TagResourceCommand({
      KeyId: taggedLater.keyId,
      Tags: [{ TagKey: 'keymat:retire-on', TagValue: '2999-01-01' }],
    }),
  );
  notExpected.push(taggedLater.keyMaterialId!);

  await new Promise((r) => setTimeout(r, 1600)); // the 1.5 s material expires
}, 60_000);
afterAll(async () => {
  await stack.close();
  rmSync(dir, { recursive: true, force: true });
});

it('a dry run selects exactly the violating materials and changes and starts nothing', async () => {
  const before = { executions: executions(), mutating: mutatingKms() };
  const summary = await run(true);
  expect(Object.fromEntries(summary.violations.map((v) => [v.keyMaterialId, v.rule]))).toEqual(expected);
  for (const id of notExpected) expect(summary.violations.map((v) => v.keyMaterialId)).not.toContain(id);
  expect(summary.skipped).toEqual([expect.objectContaining({ reason: 'key is PendingDeletion' })]);
  expect(summary.started).toEqual([]);
  expect({ executions: executions(), mutating: mutatingKms() }).toEqual(before);
});

it('starts one change per violation, deterministically named, requested by the scan', async () => {
  const summary = await run();
  expect(summary.started.map((s) => s.keyMaterialId).sort()).toEqual(Object.keys(expected).sort());
  for (const s of summary.started) expect(s.changeId).toMatch(/^EXP-\d{8}-[0-9a-f]{8}-[0-9a-f]{12}$/);
  const { approvals: pending } = JSON.parse(
    (await keymat(['pending', '--local', '--state-dir', dir, '--json'])).stdout,
  ) as {
    approvals: { input: { requestedBy: string; reason: string } }[];
  };
  for (const p of pending) expect(p.input.requestedBy).toBe('keymat-expiry-scan');
  expect(pending.map((p) => p.input.reason)).toContainEqual(expect.stringContaining('expiry policy (retire-tag)'));
}, 30_000);

it('a second run on the same day starts nothing new', async () => {
  const before = executions();
  const summary = await run();
  expect(summary.started).toEqual([]);
  expect(summary.alreadyStarted.map((s) => s.keyMaterialId).sort()).toEqual(Object.keys(expected).sort());
  const names = new Set(
    (
      JSON.parse((await keymat(['pending', '--local', '--state-dir', dir, '--json'])).stdout) as {
        approvals: { executionArn: string }[];
      }
    ).approvals.map((p) => p.executionArn),
  );
  expect(names.size).toBe(Object.keys(expected).length);
  expect(executions() - before).toBe(0);
});

it('never starts more than the per-run limit, and says why it skipped the rest', async () => {
  const otherDay = new Date(Date.now() + DAY);
  const summary = await scan({ kms: target.kms, now: otherDay, start: scanStarter() }, policy, limits(1), false);
  expect(summary.started).toHaveLength(1);
  expect(summary.skipped.filter((s) => s.reason === 'the limit of 1 changes per run was reached')).toHaveLength(2);
});

it('keymat scan --dry-run prints the same selection', async () => {
  const r = await keymat(['scan', '--local', '--state-dir', dir, '--dry-run', '--json']);
  expect(r.code).toBe(0);
  const summary = JSON.parse(r.stdout) as ScanSummary;
  expect(summary.violations.map((v) => v.keyMaterialId).sort()).toEqual(Object.keys(expected).sort());
  expect(summary.dryRun).toBe(true);
});

it('keymat scan starts the new violations through the gateway as the operator, and counts the earlier ones', async () => {
  const fresh = await createExternalKey(kms, {
    materialDir: join(dir, 'byok'),
    validTo: new Date(Date.now() + 7 * DAY),
  });
  const r = await keymat(['scan', '--local', '--state-dir', dir, '--json'], {
    AWS_ACCESS_KEY_ID: 'carol',
    AWS_SECRET_ACCESS_KEY: 'local',
  });
  expect(r.stderr).toBe('');
  expect(r.code).toBe(0);
  const summary = JSON.parse(r.stdout) as ScanSummary;
  expect(summary.started.map((s) => s.keyMaterialId)).toEqual([fresh.keyMaterialId]);
  expect(summary.alreadyStarted.map((s) => s.keyMaterialId).sort()).toEqual(Object.keys(expected).sort());
  const { approvals: pending } = JSON.parse(
    (await keymat(['pending', '--local', '--state-dir', dir, '--json'])).stdout,
  ) as {
    approvals: { input: { keyMaterialId?: string; requestedBy: string } }[];
  };
  expect(pending.find((p) => p.input.keyMaterialId === fresh.keyMaterialId)?.input.requestedBy).toBe(
    'arn:aws:iam::111122223333:user/carol',
  );
}, 30_000);
