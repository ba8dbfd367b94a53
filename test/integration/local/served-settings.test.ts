import { DeleteImportedKeyMaterialCommand, type KMSClient } from '@aws-sdk/client-kms';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { approve, localTarget, proveRecovery, startChange } from '../../../cli/operations';
import { wrapKeyMaterial } from '../../../core/key-wrap';
import { readImportParameters } from '../../../core/recovery';
import { loadMaterial, localKmsClient, type CreatedKey } from '../../../local/kms/byok';
import { LocalStack } from '../../../local/services/server';
import { readOutbox } from '../../../local/state/store';
import { prepareWorkflow } from '../../../local/workflow/workflow';
import { gatewayAs, published } from '../../helpers/changes';
import { keySupply, seedExternalKeys } from '../../helpers/seeded-keys';

/**
 * A served stack's custodians and restore quorum (`keymat local serve --custodians --restore-quorum`): the gateway
 * takes a copy only from a listed custodian, as a deployment's does, and a restore waits for its own quorum.
 */
const user = (name: string) => `arn:aws:iam::111122223333:user/${name}`;

let dir: string;
let stack: LocalStack;
let kms: KMSClient;
let keys: { next: () => CreatedKey };

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'keymat-served-settings-'));
  keys = keySupply(
    seedExternalKeys(
      dir,
      join(dir, 'byok'),
      Array.from({ length: 2 }, () => ({})),
    ),
  );
  stack = await LocalStack.start({
    stateDir: dir,
    workflow: (endpoint) =>
      prepareWorkflow(endpoint, {
        approvalTimeoutSeconds: 120,
        proofTimeoutSeconds: 60,
        restoreQuorum: 2,
        custodians: [user('custodian-*')],
      }),
  });
  kms = localKmsClient(stack.endpoint);
});
afterAll(async () => {
  await stack.close();
  rmSync(dir, { recursive: true, force: true });
});

const as = (name: string) => localTarget(dir, { accessKeyId: name, secretAccessKey: 'local' });

/** The states the execution has entered so far, in order. */
async function entered(executionArn: string): Promise<string[]> {
  const events = await as('alice').changes.history(executionArn);
  return events.flatMap((e) => (e.stateEnteredEventDetails?.name ? [e.stateEnteredEventDetails.name] : []));
}

it("refuses a copy from anyone not listed ProofRefused (403) without reading the change, and takes a listed custodian's", async () => {
  const key = keys.next();
  const { executionArn } = await startChange(as('alice'), {
    keyId: key.keyArn,
    changeId: 'CUSTODIANS-1',
    reason: 'retire the material',
    waitSeconds: 0,
  });
  const [asked] = await published(dir, executionArn, 'RecoveryProofRequested');
  const parameters = readImportParameters(asked.message);
  const material = loadMaterial(key.materialFile as string);

  // A true copy under this change's parameters: who sends it is what is refused.
  const logged = stack.requestLog.read().length;
  const refused = await gatewayAs(stack.endpoint, 'mallory', '/recovery', {
    execution: executionArn,
    wrappedKeyMaterial: wrapKeyMaterial(
      Buffer.from(parameters.publicKey, 'base64'),
      material,
      parameters.wrappingAlgorithm,
    ).toString('base64'),
    importToken: parameters.importToken,
    wrappingAlgorithm: parameters.wrappingAlgorithm,
  });
  expect(refused).toMatchObject({ status: 403, body: { error: 'ProofRefused' } });
  expect(JSON.stringify(refused.body)).toContain(
    `${user('mallory')} is not one of the custodians (${user('custodian-*')})`,
  );
  expect(
    stack.requestLog
      .read()
      .slice(logged)
      .map((e) => `${e.service} ${e.operation}`),
  ).toEqual(['gateway POST /recovery']);
  expect((await as('alice').changes.describe(executionArn)).status).toBe('RUNNING');
  expect((await as('alice').changes.pending()).proofs.map((p) => p.executionArn)).toEqual([executionArn]);

  await expect(proveRecovery(as('custodian-carol'), executionArn, parameters, { material })).resolves.toMatchObject({
    custodian: user('custodian-carol'),
    keyMaterialId: key.keyMaterialId,
  });
  const [request] = await published(dir, executionArn, 'ApprovalRequested');
  expect(request.message.split('\n')[0]).toMatch(new RegExp(`^Recovery proven by ${user('custodian-carol')} at `));
});

it('asks for the copy of a restore only once its quorum of two distinct approvers is reached', async () => {
  const key = keys.next();
  await kms.send(new DeleteImportedKeyMaterialCommand({ KeyId: key.keyArn, KeyMaterialId: key.keyMaterialId }));
  const { executionArn } = await startChange(as('alice'), {
    keyId: key.keyArn,
    keyMaterialId: key.keyMaterialId,
    changeId: 'RESTORE-QUORUM-1',
    reason: 'back-out',
    restore: true,
    waitSeconds: 0,
  });
  await published(dir, executionArn, 'ApprovalRequested');
  expect(await approve(as('bob'), executionArn)).toMatchObject({ quorum: 2 });
  await published(dir, executionArn, 'ApprovalRequested', 2);
  expect(await entered(executionArn)).not.toContain('GetImportParameters');
  expect(
    readOutbox(dir)
      .filter((m) => m.attributes.executionId === executionArn)
      .map((m) => m.attributes.event),
  ).toEqual(['ApprovalRequested', 'ApprovalRequested']);

  await approve(as('dave'), executionArn);
  await published(dir, executionArn, 'RecoveryProofRequested');
  const states = await entered(executionArn);
  // One round per approver, each counted against the restore's quorum; the copy is asked for only after the second.
  expect(states.slice(states.indexOf('RequestApproval'))).toEqual([
    'RequestApproval',
    'CountApprovals',
    'QuorumReached',
    'RequestApproval',
    'CountApprovals',
    'QuorumReached',
    'GetImportParameters',
    'AwaitRecoveryProof',
  ]);
});
