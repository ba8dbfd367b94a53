import { DecryptCommand, DescribeKeyCommand, EncryptCommand, CreateAliasCommand } from '@aws-sdk/client-kms';
import { Command } from 'commander';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { localKmsClient } from '../../local/clients';
import { createExternalKey, importKeyMaterial } from '../../local/kms/byok';
import { localApprover } from '../../local/approver';
import { DEFAULT_STATE_DIR } from '../../local/state-file';
import { openLocalWorkflow } from '../../local/workflow';
import { CliError } from '../output';
import { describeEvent, describeResult } from './local-run';

const say = (line = ''): void => void process.stdout.write(`${line}\n`);

/** `npm start`: the whole change on the embedded local stack, from a new BYOK key to its recovery. */
export function demoCommand(): Command {
  return new Command('demo')
    .description('the local demo: a BYOK key, a deletion change through approval to the verified state, and recovery')
    .option('--state-dir <dir>', 'state folder of the local stack', DEFAULT_STATE_DIR)
    .action(async (opts: { stateDir: string }) => {
      const workflow = await openLocalWorkflow({ stateDir: opts.stateDir, approvalTimeoutSeconds: 300 });
      try {
        const kms = localKmsClient(workflow.endpoint);
        say(`keymat demo on the embedded local stack at ${workflow.endpoint} (state in ${opts.stateDir})`);
        say('\n1. A customer creates a KMS key with origin EXTERNAL and imports its own wrapped key material.');
        const key = await createExternalKey(kms, {
          description: 'keymat demo key',
          materialDir: join(opts.stateDir, 'byok'),
        });
        const alias = `alias/keymat-demo-${key.keyId.slice(0, 8)}`;
        await kms.send(new CreateAliasCommand({ AliasName: alias, TargetKeyId: key.keyId }));
        say(`   key ${key.keyArn} (${alias})\n   material ${key.keyMaterialId}`);
        const secret = await kms.send(
          new EncryptCommand({ KeyId: alias, Plaintext: Buffer.from('the payroll db key') }),
        );
        say('   encrypted a secret with it.');

        const changeId = `DEMO-${key.keyId.slice(0, 8)}`;
        say(
          `\n2. Change ${changeId} deletes the material: validate, check, approve (as a second person), delete, verify.`,
        );
        const result = await workflow.run(
          {
            keyId: key.keyArn,
            changeId,
            reason: 'retire the material after the demo',
            requestedBy: 'alice@example.com',
            waitSeconds: 1,
          },
          { decide: localApprover('auto', 'bob@example.com'), onEvent: (e) => printEvent(e) },
        );
        say(describeResult(result));
        if (result.status !== 'SUCCEEDED') throw new CliError('the demo change did not succeed');

        say('\n3. The key is now unusable, exactly as KMS documents it:');
        const after = (await kms.send(new DescribeKeyCommand({ KeyId: key.keyId }))).KeyMetadata;
        say(`   DescribeKey: ${after?.KeyState}`);
        try {
          await kms.send(new EncryptCommand({ KeyId: key.keyId, Plaintext: Buffer.from('x') }));
          throw new CliError('Encrypt still worked after the deletion');
        } catch (err) {
          if (err instanceof CliError) throw err;
          say(`   Encrypt: ${(err as Error).name}: ${(err as Error).message}`);
        }

        say('\n4. Recovery: only the same material brings it back. The customer reimports its copy.');
        await importKeyMaterial(kms, key.keyId, readFileSync(key.materialFile as string));
        const recovered = (await kms.send(new DescribeKeyCommand({ KeyId: key.keyId }))).KeyMetadata;
        const plaintext = await kms.send(new DecryptCommand({ CiphertextBlob: secret.CiphertextBlob }));
        say(
          `   DescribeKey: ${recovered?.KeyState}; the old ciphertext decrypts to "${Buffer.from(plaintext.Plaintext as Uint8Array).toString()}"`,
        );
        say('\nDone. Try: npx keymat local run --help');
      } finally {
        await workflow.close();
      }
    });
}

function printEvent(e: Parameters<typeof describeEvent>[0]): void {
  const line = describeEvent(e);
  if (line) say(line);
}
