import { type KMSClient } from '@aws-sdk/client-kms';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, request as httpRequest, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readImportParameters } from '../../../core/recovery';
import { approve, localTarget, proveRecovery, startChange } from '../../../cli/operations';
import { kmsCall, readKey } from '../../../functions/runtime/aws';
import { importParameters } from '../../../functions/prove-recovery/prove-recovery';
import { wrapKeyMaterial } from '../../../core/key-wrap';
import { loadMaterial, localKmsClient, newKeyMaterial, type CreatedKey } from '../../../local/kms/byok';
import { LocalStack } from '../../../local/services/server';
import { readEventsOutbox, readOutbox } from '../../../local/state/store';
import { localApprover } from '../../../local/workflow/approver';
import { localCustodian } from '../../../local/workflow/custodian';
import type { Decider } from '../../../local/workflow/engine';
import { openLocalWorkflow, prepareWorkflow, type LocalWorkflow } from '../../../local/workflow/workflow';
import { gatewayAs, published, waitFor } from '../../helpers/changes';
import { keySupply, seedExternalKeys } from '../../helpers/seeded-keys';

/**
 * The recovery proof on the local stack (docs/recovery.md): the synthesized definition run end to end, with a
 * custodian who holds the material, one who holds another, and none at all; and the served stack's gateway, where an
 * unproven change needs each approver's confirmation and the custodian's CLI sends only wrapped bytes.
 */
let dir: string;
let stack: LocalStack;
let offered: LocalWorkflow;
let required: LocalWorkflow;
let kms: KMSClient;
let keys: { next: () => CreatedKey };

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'keymat-proof-'));
  keys = keySupply(
    seedExternalKeys(
      dir,
      join(dir, 'byok'),
      Array.from({ length: 9 }, () => ({})),
    ),
  );
  // Served, with a short proof wait: a change nobody proves soon goes on unproven, and a custodian still has time.
  stack = await LocalStack.start({
    stateDir: dir,
    workflow: (endpoint) =>
      prepareWorkflow(endpoint, { approvalTimeoutSeconds: 120, quorum: 2, proofTimeoutSeconds: 5 }),
  });
  offered = await openLocalWorkflow({ stateDir: dir, approvalTimeoutSeconds: 3600 });
  required = await openLocalWorkflow({ stateDir: dir, approvalTimeoutSeconds: 3600, recoveryProof: 'required' });
  kms = localKmsClient(stack.endpoint);
});
afterAll(async () => {
  await stack.close();
  rmSync(dir, { recursive: true, force: true });
});

let changes = 0;
const change = (key: CreatedKey, over: Record<string, unknown> = {}) => ({
  keyId: key.keyArn,
  changeId: `PROOF-${++changes}`,
  reason: 'retire the material',
  requestedBy: 'alice',
  ...over,
});

/** A decider that keeps each approval request it is shown, then decides as `decide` does. */
function recording(decide: Decider): Decider & { messages: string[] } {
  const messages: string[] = [];
  const recorder = async (request: Parameters<Decider>[0]) => {
    messages.push(request.message.message);
    return decide(request);
  };
  return Object.assign(recorder, { messages });
}

const entered = (history: { type: string; state?: string }[]) =>
  history.filter((e) => e.type === 'StateEntered').map((e) => e.state);

describe('the recovery proof on the workflow', () => {
  it('shows a proven recovery on the approval request, first line, and deletes without a confirmation', async () => {
    const key = keys.next();
    const decide = recording(localApprover('auto', 'bob'));
    const r = await offered.run(change(key), {
      decide,
      custodian: localCustodian(loadMaterial(key.materialFile as string), 'carol'),
      waitMs: 5,
      retryIntervalMs: 5,
    });
    expect(r.output).toMatchObject({
      status: 'DELETED',
      recovery: { provedBy: 'carol', keyMaterialId: key.keyMaterialId },
    });
    expect(decide.messages[0]?.split('\n')[0]).toMatch(
      new RegExp(`^Recovery proven by carol at \\S+ \\(material ${key.keyMaterialId}\\)\\.$`),
    );
    expect(r.kmsCalls.map((c) => c.operation)).toEqual(
      expect.arrayContaining(['GetParametersForImport', 'ImportKeyMaterial', 'DeleteImportedKeyMaterial']),
    );
    // The import parameters went to the custodians only: no event and no outcome carries them or the wrapped copy.
    const parameters = readImportParameters(
      readOutbox(dir).find(
        (m) => m.attributes.executionId === r.executionArn && m.attributes.event === 'RecoveryProofRequested',
      )?.message ?? '',
    );
    const events = JSON.stringify(readEventsOutbox(dir).filter((e) => e.detail.executionArn === r.executionArn));
    for (const published of [JSON.stringify(r.output), events]) {
      expect(published).not.toContain(parameters.importToken);
      expect(published).not.toContain(parameters.publicKey);
      expect(published).not.toMatch(/wrappedKeyMaterial|importToken|publicKey/);
    }
  });

  it('ends RecoveryNotProven for another material, with the key and its materials unchanged and nothing deleted', async () => {
    const key = keys.next();
    const before = await readKey(kmsCall(kms), key.keyArn);
    const decide = recording(localApprover('auto', 'bob', { irreversible: true }));
    const r = await offered.run(change(key), {
      decide,
      custodian: localCustodian(newKeyMaterial(), 'mallory'),
      waitMs: 5,
      retryIntervalMs: 5,
    });
    expect(r).toMatchObject({ status: 'FAILED', error: 'RecoveryNotProven' });
    expect(r.cause).toContain('KMS refused the copy submitted by mallory: IncorrectKeyMaterialException');
    expect(r.output).toBeNull();
    expect(decide.messages).toEqual([]);
    expect(r.kmsCalls.filter((c) => c.operation === 'ImportKeyMaterial').map((c) => c.error)).toEqual([
      'IncorrectKeyMaterialException',
    ]);
    expect(r.kmsCalls.map((c) => c.operation)).not.toContain('DeleteImportedKeyMaterial');
    expect(await readKey(kmsCall(kms), key.keyArn)).toEqual(before);
  });

  it('ends RecoveryNotProven when a required proof never comes, before any approval is asked', async () => {
    const key = keys.next();
    const decide = recording(localApprover('auto', 'bob', { irreversible: true }));
    const r = await required.run(change(key), { decide, waitMs: 5, retryIntervalMs: 5 });
    expect(r).toMatchObject({ status: 'FAILED', error: 'RecoveryNotProven' });
    expect(entered(r.history)).toContain('MarkRecoveryNotProven');
    expect(entered(r.history)).not.toContain('RequestApproval');
    expect(r.kmsCalls.map((c) => c.operation)).not.toContain('DeleteImportedKeyMaterial');
    expect(decide.messages).toEqual([]);
  });

  it('ends RecoveryNotProven when a change requires the proof its deployment only offers, and none comes', async () => {
    const key = keys.next();
    const r = await offered.run(change(key, { recoveryProof: 'required' }), {
      decide: localApprover('auto', 'bob', { irreversible: true }),
      waitMs: 5,
      retryIntervalMs: 5,
    });
    expect(r).toMatchObject({ status: 'FAILED', error: 'RecoveryNotProven' });
  });

  it('refuses a change that asks for less proof than its deployment with InvalidInput, before any KMS call', async () => {
    const key = keys.next();
    const r = await required.run(change(key, { recoveryProof: 'offered' }), {
      decide: localApprover('auto', 'bob', { irreversible: true }),
      waitMs: 5,
      retryIntervalMs: 5,
    });
    expect(r).toMatchObject({ status: 'FAILED', error: 'InvalidInput' });
    expect(r.cause).toContain("recoveryProof may only be stricter than the deployment's required");
    expect(r.kmsCalls.map((c) => c.operation)).not.toContain('GetParametersForImport');
  });

  it('opens an unproven request with NOT SHOWN TO BE REVERSIBLE, and DeleteMaterial refuses an approval without the confirmation', async () => {
    const key = keys.next();
    const decide = recording(localApprover('auto', 'bob'));
    const r = await offered.run(change(key), { decide, waitMs: 5, retryIntervalMs: 5 });
    expect(decide.messages[0]?.split('\n')[0]).toMatch(/^This deletion is NOT SHOWN TO BE REVERSIBLE: /);
    expect(decide.messages[0]).toContain('--irreversible');
    expect(r).toMatchObject({ status: 'FAILED', error: 'ApprovalInvalid' });
    expect(r.cause).toContain('bob did not confirm that the deletion may be irreversible');
    expect(r.kmsCalls.map((c) => c.operation)).not.toContain('DeleteImportedKeyMaterial');
  });
});

describe('the recovery proof through the gateway', () => {
  const user = (name: string) => `arn:aws:iam::111122223333:user/${name}`;

  it('needs --irreversible from every approver of an unproven change, then deletes', async () => {
    const key = keys.next();
    const alice = localTarget(dir, { accessKeyId: 'alice', secretAccessKey: 'local' });
    const { executionArn } = await startChange(alice, {
      keyId: key.keyArn,
      changeId: `PROOF-${++changes}`,
      reason: 'r',
      waitSeconds: 0,
    });
    await published(dir, executionArn, 'ApprovalRequested');
    const refused = await gatewayAs(stack.endpoint, 'bob', '/approve', { execution: executionArn });
    expect(refused).toMatchObject({ status: 403, body: { error: 'ApprovalRefused' } });
    expect(JSON.stringify(refused.body)).toContain('did not confirm that the deletion may be irreversible');

    const bob = await gatewayAs(stack.endpoint, 'bob', '/approve', { execution: executionArn, irreversible: true });
    expect(bob.status).toBe(200);
    await published(dir, executionArn, 'ApprovalRequested', 2);
    const unconfirmed = await gatewayAs(stack.endpoint, 'carol', '/approve', { execution: executionArn });
    expect(unconfirmed).toMatchObject({ status: 403, body: { error: 'ApprovalRefused' } });
    expect(JSON.stringify(unconfirmed.body)).toContain('did not confirm that the deletion may be irreversible');
    const carol = await gatewayAs(stack.endpoint, 'carol', '/approve', { execution: executionArn, irreversible: true });
    expect(carol.status).toBe(200);
    const done = await waitFor(async () => {
      const d = await alice.changes.describe(executionArn);
      return d.status === 'RUNNING' ? undefined : d;
    }, 'the end of the change');
    expect(done.status).toBe('SUCCEEDED');
    const output = JSON.parse(done.output ?? '{}');
    expect(
      output.approvals.map((a: { approver: string; irreversible?: boolean }) => [a.approver, a.irreversible]),
    ).toEqual([
      [user('bob'), true],
      [user('carol'), true],
    ]);
  });

  it("refuses a true copy wrapped for another change's token, and lets the requester withdraw the change", async () => {
    const key = keys.next();
    const alice = localTarget(dir, { accessKeyId: 'alice', secretAccessKey: 'local' });
    const { executionArn } = await startChange(alice, {
      keyId: key.keyArn,
      changeId: `PROOF-${++changes}`,
      reason: 'r',
      waitSeconds: 0,
    });
    await published(dir, executionArn, 'RecoveryProofRequested');
    const before = await readKey(kmsCall(kms), key.keyArn);
    const early = await gatewayAs(stack.endpoint, 'bob', '/approve', { execution: executionArn, irreversible: true });
    expect(early).toMatchObject({ status: 409, body: { error: 'NothingToDecide' } });
    expect(JSON.stringify(early.body)).toContain("waits for a custodian's recovery proof");

    // Another change's parameters (KMS still takes their token) and a true copy wrapped under them, as a replay from
    // that change's history would bring: refused before the proof is answered, and the change still waits.
    const other = await importParameters(
      kmsCall(kms),
      'another-change',
      { keyArn: key.keyArn, keyMaterialId: key.keyMaterialId as string },
      'RSAES_OAEP_SHA_256',
    );
    const replayed = await gatewayAs(stack.endpoint, 'mallory', '/recovery', {
      execution: executionArn,
      wrappedKeyMaterial: wrapKeyMaterial(
        Buffer.from(other.publicKey, 'base64'),
        loadMaterial(key.materialFile as string),
        other.wrappingAlgorithm,
      ).toString('base64'),
      importToken: other.importToken,
      wrappingAlgorithm: other.wrappingAlgorithm,
    });
    expect(replayed).toMatchObject({ status: 400, body: { error: 'ProofRefused' } });
    expect((await alice.changes.describe(executionArn)).status).toBe('RUNNING');

    const withdrawn = await gatewayAs(stack.endpoint, 'alice', '/reject', {
      execution: executionArn,
      comment: 'wrong key',
    });
    expect(withdrawn).toMatchObject({ status: 200, body: { as: 'REQUESTER' } });
    const done = await waitFor(async () => {
      const d = await alice.changes.describe(executionArn);
      return d.status === 'RUNNING' ? undefined : d;
    }, 'the end of the change');
    expect(done.status).toBe('FAILED');
    expect(done.error).toBe('ApprovalRejected');
    const history = await alice.changes.history(executionArn);
    expect(
      entered(history.map((e) => ({ type: e.type ?? '', state: e.stateEnteredEventDetails?.name }))),
    ).not.toContain('RequestApproval');
    expect(await readKey(kmsCall(kms), key.keyArn)).toEqual(before);
    const decided = readEventsOutbox(dir).filter(
      (e) =>
        e.detailType === 'Approval Decided' && (e.detail as { executionArn?: string }).executionArn === executionArn,
    );
    expect(decided.map((e) => e.detail)).toEqual([
      expect.objectContaining({ decision: 'REJECTED', as: 'REQUESTER', round: 1, decidedBy: user('alice') }),
    ]);
  });

  it('wraps a plaintext copy in the CLI and sends the gateway only the wrapped bytes', async () => {
    const key = keys.next();
    const material = loadMaterial(key.materialFile as string);
    const sent: Buffer[] = [];
    // Between the CLI and the gateway: every byte the custodian's command sends passes here.
    const proxy: Server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const body = Buffer.concat(chunks);
        sent.push(body);
        const target = new URL(req.url ?? '/', `${stack.endpoint}/gateway/`);
        const forward = httpRequest(
          `${stack.endpoint}/gateway${target.pathname}`,
          { method: req.method, headers: req.headers },
          (answer) => {
            res.writeHead(answer.statusCode ?? 500, answer.headers);
            answer.pipe(res);
          },
        );
        forward.end(body);
      });
    });
    await new Promise<void>((r) => proxy.listen(0, '127.0.0.1', r));
    try {
      const port = (proxy.address() as { port: number }).port;
      const alice = localTarget(dir, { accessKeyId: 'alice', secretAccessKey: 'local' });
      const { executionArn } = await startChange(alice, {
        keyId: key.keyArn,
        changeId: `PROOF-${++changes}`,
        reason: 'r',
      });
      const [asked] = await published(dir, executionArn, 'RecoveryProofRequested');
      const local = localTarget(dir, { accessKeyId: 'carol', secretAccessKey: 'local' });
      expect((await local.changes.pending()).proofs).toEqual([
        expect.objectContaining({ executionArn, task: expect.objectContaining({ taskToken: expect.any(String) }) }),
      ]);
      const carol = {
        ...local,
        gateway: async () => ({ ...(await local.gateway()), url: `http://127.0.0.1:${port}` }),
      };
      const answer = await proveRecovery(carol, executionArn, readImportParameters(asked.message), { material });
      expect(answer).toMatchObject({ custodian: user('carol'), keyMaterialId: key.keyMaterialId });

      expect(sent).toHaveLength(1);
      const body = sent[0] as Buffer;
      for (const encoding of ['hex', 'base64', 'base64url', 'latin1'] as const) {
        expect(body.toString('latin1')).not.toContain(material.toString(encoding));
      }
      expect(Object.keys(JSON.parse(body.toString()))).toEqual([
        'execution',
        'wrappedKeyMaterial',
        'importToken',
        'wrappingAlgorithm',
      ]);

      const [request] = await published(dir, executionArn, 'ApprovalRequested');
      expect(request.message.split('\n')[0]).toMatch(/^Recovery proven by arn:aws:iam::111122223333:user\/carol at /);
      await approve(localTarget(dir, { accessKeyId: 'bob', secretAccessKey: 'local' }), executionArn);
    } finally {
      await new Promise((r) => proxy.close(r));
    }
  });
});
