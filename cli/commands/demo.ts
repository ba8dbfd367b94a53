import { CreateAliasCommand, DecryptCommand, DescribeKeyCommand, EncryptCommand } from '@aws-sdk/client-kms';
import { Command } from 'commander';
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { printable } from '../../core/text';
import { createExternalKey, localKmsClient } from '../../local/kms/byok';
import { LocalStack } from '../../local/services/server';
import { runningEndpoint } from '../../local/state/store';
import { prepareWorkflow } from '../../local/workflow/workflow';
import { type OutboxMessage } from '../../local/services/sns';
import { readEventsOutbox, readOutbox } from '../../local/state/store';
import { readImportParameters, restoreChangeId } from '../../core/recovery';
import { approve, localTarget, proveRecovery, startChange } from '../operations';
import { CliError, lineWriter, type CliIo } from '../output';
import { DEFAULT_STATE_DIR } from '../../local/constants';

/** How long the demo waits for a request to reach the outbox (the machine may be busy). */
const REQUEST_TIMEOUT_MS = 30_000;

/**
 * A request an execution published (`ApprovalRequested`, `RecoveryProofRequested`), once it is in the outbox: the
 * history shows the task scheduled before the message is there, so the demo waits for the message itself.
 */
async function published(
  stateDir: string,
  executionArn: string,
  event: string,
  timeoutMs: number,
): Promise<OutboxMessage> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const found = readOutbox(stateDir).find(
      (m) => m.attributes.executionId === executionArn && m.attributes.event === event,
    );
    if (found) return found;
    if (Date.now() > deadline) {
      throw new CliError(
        `no ${event} message for ${executionArn} reached the outbox of ${stateDir} within ${timeoutMs / 1000} seconds: see 'keymat status --local ${executionArn}' and 'keymat history --local ${executionArn}'`,
      );
    }
    await sleep(100);
  }
}
const as = (user: string) => ({ accessKeyId: user, secretAccessKey: 'local' });

/**
 * `npm start`: the whole change on the served local stack, the way operators run it (through the gateway, signed as
 * each person): a BYOK key, `keymat start` as the requester, the recovery proof request and a custodian's
 * `keymat recovery prove`, the approval request with the proof in the outbox, `keymat approve` as a second person,
 * `keymat status --watch`, the key unusable, and its recovery as a restore change (`keymat restore`).
 */
export function demoCommand(io: CliIo): Command {
  const say = lineWriter(io);
  return new Command('demo')
    .description('the local demo: a BYOK key, a deletion change through approval to the verified state, and recovery')
    .option('--state-dir <dir>', 'state folder of the local stack', DEFAULT_STATE_DIR)
    .option(
      '--org',
      'the organisation demo instead, on a fresh --state-dir: a member key deleted from the hub, and the fleet doctor',
      false,
    )
    .action(async (opts: { stateDir: string; org: boolean }) => {
      if (statSync(opts.stateDir, { throwIfNoEntry: false })?.isDirectory() === false) {
        throw new CliError(
          `${opts.stateDir} is a file, not a folder: give keymat demo a folder as --state-dir (a missing one is made)`,
        );
      }
      if (opts.org) return (await import('./demo-org.js')).demoOrg(io, opts.stateDir);
      const dir = opts.stateDir;
      const stack = runningEndpoint(dir)
        ? undefined
        : await LocalStack.start({
            stateDir: dir,
            workflow: (endpoint) => prepareWorkflow(endpoint, { approvalTimeoutSeconds: 600 }),
          });
      try {
        const kms = localKmsClient(runningEndpoint(dir) as string);
        say(`keymat demo on the local stack at ${runningEndpoint(dir)} (state in ${dir})`);

        say('\n1. A customer creates a KMS key with origin EXTERNAL and imports its own wrapped key material.');
        const key = await createExternalKey(kms, { description: 'keymat demo key', materialDir: join(dir, 'byok') });
        const alias = `alias/keymat-demo-${key.keyId.slice(0, 8)}`;
        await kms.send(new CreateAliasCommand({ AliasName: alias, TargetKeyId: key.keyId }));
        const secret = await kms.send(
          new EncryptCommand({ KeyId: alias, Plaintext: Buffer.from('the payroll db key') }),
        );
        say(`   ${key.keyArn} (${alias}), material ${key.keyMaterialId}; a secret is encrypted with it.`);

        const changeId = `DEMO-${key.keyId.slice(0, 8)}`;
        say(`\n2. alice starts change ${changeId}:`);
        say(
          `   $ AWS_ACCESS_KEY_ID=alice keymat start --local --key-id ${key.keyArn} --change-id ${changeId} --reason "…"`,
        );
        const alice = localTarget(dir, as('alice'));
        // Through the gateway, signed as alice: the gateway, not the command line, names her the requester.
        const { executionArn } = await startChange(alice, {
          keyId: key.keyArn,
          changeId,
          reason: 'retire the BYOK material after the migration',
          waitSeconds: 1,
        });
        say(`   started ${executionArn}`);

        say("\n3. Before any approval, keymat asks the material's custodians to prove it can be imported again:");
        const asked = await published(dir, executionArn, 'RecoveryProofRequested', REQUEST_TIMEOUT_MS);
        const lines = asked.message.split('\n');
        for (const line of lines.slice(0, -1)) say(`   │ ${printable(line)}`);
        say('   │ {"executionArn":…,"publicKey":…,"importToken":…} (the import parameters, not secrets)');

        say('\n4. carol, a custodian, wraps her escrowed copy locally and submits only the wrapped bytes:');
        say(
          `   $ AWS_ACCESS_KEY_ID=carol keymat recovery prove --local keymat-${changeId} --parameters request.txt --material material.bin`,
        );
        const carol = localTarget(dir, as('carol'));
        const proof = await proveRecovery(carol, executionArn, readImportParameters(asked.message), {
          material: readFileSync(key.materialFile as string),
        });
        say(`   submitted as ${printable(proof.custodian)}; ProveRecovery reimports it and finds the key unchanged.`);

        say('\n5. The approval request reaches the approvers, the proof on its first line (`keymat outbox`):');
        const request = await published(dir, executionArn, 'ApprovalRequested', REQUEST_TIMEOUT_MS);
        for (const line of request.message.split('\n')) say(`   │ ${printable(line)}`);

        say('\n6. bob approves it:');
        say(`   $ AWS_ACCESS_KEY_ID=bob keymat approve --local keymat-${changeId}`);
        const bob = localTarget(dir, as('bob'));
        const approved = await approve(bob, executionArn, 'checked with the app owners');
        say(`   approved as ${printable(approved.approver)} (${approved.approvals} of ${approved.quorum} approvals)`);

        say(`\n7. Following it to the end ($ keymat status --local keymat-${changeId} --watch):`);
        let shown = 0;
        let described;
        for await (const look of bob.changes.watch(executionArn, { intervalMs: 200 })) {
          for (const state of look.entered.slice(shown)) say(`   → ${state}`);
          shown = look.entered.length;
          described = look.described;
        }
        if (!described) throw new CliError(`execution ${executionArn} could not be watched`);
        say(`   ${described.status}: ${printable(described.output ?? `${described.error}: ${described.cause}`)}`);
        if (described.status !== 'SUCCEEDED') throw new CliError('the demo change did not succeed');
        say('   Its events, for security monitoring (EventBridge; `keymat outbox --events` shows them locally):');
        for (const e of readEventsOutbox(dir).filter((ev) => ev.detail.executionArn === executionArn)) {
          say(`   · ${e.detailType}`);
        }

        say('\n8. The key is now unusable, as KMS documents it:');
        say(`   DescribeKey: ${(await kms.send(new DescribeKeyCommand({ KeyId: key.keyId }))).KeyMetadata?.KeyState}`);
        const refused = await kms.send(new EncryptCommand({ KeyId: key.keyId, Plaintext: Buffer.from('x') })).then(
          () => undefined,
          (err: Error) => err,
        );
        if (!refused) throw new CliError('Encrypt still worked after the deletion');
        say(`   Encrypt: ${refused.name}: ${refused.message}`);

        say('\n9. The way back is a change too: the deletion named it, and alice starts it:');
        const deletion = JSON.parse(described.output ?? '{}') as { restoreCommand?: string };
        say(`   $ AWS_ACCESS_KEY_ID=alice ${printable(deletion.restoreCommand ?? 'keymat restore …')} --local`);
        const restoreId = restoreChangeId(changeId);
        const restore = await startChange(alice, {
          keyId: key.keyArn,
          keyMaterialId: key.keyMaterialId,
          changeId: restoreId,
          reason: `back-out of ${changeId}`,
          restore: true,
          waitSeconds: 1,
        });
        await published(dir, restore.executionArn, 'ApprovalRequested', REQUEST_TIMEOUT_MS);
        await approve(bob, restore.executionArn, 'restore approved');
        say(`   bob approves it ($ keymat approve --local keymat-${restoreId});`);
        const restoreAsked = await published(dir, restore.executionArn, 'RecoveryProofRequested', REQUEST_TIMEOUT_MS);
        await proveRecovery(carol, restore.executionArn, readImportParameters(restoreAsked.message), {
          material: readFileSync(key.materialFile as string),
        });
        say(
          `   then carol submits her copy again ($ keymat recovery prove --local keymat-${restoreId} …), and RestoreMaterial imports it.`,
        );
        let restored;
        for await (const look of bob.changes.watch(restore.executionArn, { intervalMs: 200 })) {
          restored = look.described;
        }
        const outcome = JSON.parse(restored?.output ?? '{}') as { status?: string };
        if (outcome.status !== 'RESTORED')
          throw new CliError(`the restore did not succeed: see keymat status --local keymat-${restoreId}`);
        const state = (await kms.send(new DescribeKeyCommand({ KeyId: key.keyId }))).KeyMetadata?.KeyState;
        const plaintext = await kms.send(new DecryptCommand({ CiphertextBlob: secret.CiphertextBlob }));
        say(
          `   RESTORED. DescribeKey: ${state}; the old ciphertext decrypts to "${Buffer.from(plaintext.Plaintext as Uint8Array).toString()}"`,
        );
        say('\nDone. Next: npx keymat local serve, then npx keymat --help');
      } finally {
        await stack?.close();
      }
    });
}
