import { Command } from 'commander';
import { join } from 'node:path';
import { createExternalKey, localKmsClient } from '../../local/kms/byok';
import { loadFaultFile } from '../../local/kms/faults';
import { LocalStack } from '../../local/services/server';
import { runningEndpoint } from '../../local/state/store';
import { StateFolderBusyError } from '../../local/state/store';
import { setTimeout as sleep } from 'node:timers/promises';
import { cliEnvironment } from '../env';
import { printJson, type CliIo } from '../output';
import { wholeNumber } from '../options';
import { ACCOUNT_ID } from '../../core/organisation';
import { DEFAULT_REGION, DEFAULT_STATE_DIR, LOCAL_ACCOUNT_ID } from '../../local/constants';

/** How long a command waits for another keymat process that holds the state folder to serve it or let it go. */
const BUSY_WAIT_MS = 10_000;

/**
 * Runs `use` against the local KMS for a state folder: the `AWS_ENDPOINT_URL_KMS` endpoint of `env` when set, else the
 * live `keymat local … serve` on that folder, else a stack started for this command alone. A folder another command
 * holds for a moment (a parallel `create-key`) is waited for, never written beside it.
 */
async function withLocalKms<T>(env: CliIo['env'], stateDir: string, use: (endpoint: string) => Promise<T>): Promise<T> {
  const configured = cliEnvironment(env).kmsEndpoint;
  if (configured) return use(configured);
  const deadline = Date.now() + BUSY_WAIT_MS;
  for (;;) {
    const endpoint = runningEndpoint(stateDir);
    if (endpoint) return use(endpoint);
    let stack: LocalStack;
    try {
      stack = await LocalStack.start({ stateDir, advertise: false });
    } catch (err) {
      if (!(err instanceof StateFolderBusyError) || Date.now() > deadline) throw err;
      await sleep(25 + Math.random() * 50);
      continue;
    }
    try {
      return await use(stack.endpoint);
    } finally {
      await stack.close();
    }
  }
}

export function localKmsCommand(io: CliIo): Command {
  const kms = new Command('kms').description('the local KMS emulator on its own');

  kms
    .command('serve')
    .description('serve the local KMS on 127.0.0.1 until interrupted, and print its endpoint')
    .option('--port <n>', 'TCP port; 0 picks a free one', wholeNumber('--port', 0, 65535), 0)
    .option('--state-dir <dir>', 'folder holding keys, materials and the request log', DEFAULT_STATE_DIR)
    .option('--faults <file>', 'JSON fault file (see docs/local-stack.md, "Fault injection")')
    .action(async (opts: { port: number; stateDir: string; faults?: string }) => {
      const faults = opts.faults ? loadFaultFile(opts.faults) : undefined;
      const stack = await LocalStack.start({ port: opts.port, stateDir: opts.stateDir, faults });
      io.write(
        `keymat local KMS at ${stack.endpoint} (state in ${opts.stateDir})\n` +
          `  export AWS_ENDPOINT_URL_KMS=${stack.endpoint}\n` +
          `  aws kms list-keys --endpoint-url ${stack.endpoint} --region us-east-1\n`,
      );
      await new Promise<void>((resolve) => {
        process.once('SIGINT', resolve);
        process.once('SIGTERM', resolve);
      });
      await stack.close();
    });

  kms
    .command('create-key')
    .description('create an EXTERNAL key and import real wrapped key material into it, as a user would')
    .option('--state-dir <dir>', 'state folder of the local stack', DEFAULT_STATE_DIR)
    .option('--expires-in <days>', 'material expires after this many days (1-365)', wholeNumber('--expires-in', 1, 365))
    .option('--multi-region', 'create a multi-Region primary key', false)
    .option('--no-material', 'create the key without importing material (it stays PendingImport)')
    .option('--description <text>', 'key description', 'keymat local key')
    .option('--region <region>', 'AWS Region of the key', cliEnvironment(io.env).region ?? DEFAULT_REGION)
    .option('--account <id>', 'the 12-digit account the key belongs to', LOCAL_ACCOUNT_ID)
    .option('--json', 'print one JSON object', false)
    .action(
      async (
        opts: {
          stateDir: string;
          expiresIn?: number;
          multiRegion: boolean;
          material: boolean;
          description: string;
          region: string;
          account: string;
          json: boolean;
        },
        command: Command,
      ) => {
        if (!ACCOUNT_ID.test(opts.account))
          command.error(`error: --account must be a 12-digit account id; got '${opts.account}'`);
        const created = await withLocalKms(io.env, opts.stateDir, (endpoint) =>
          createExternalKey(localKmsClient(endpoint, opts.region, opts.account), {
            description: opts.description,
            multiRegion: opts.multiRegion,
            withMaterial: opts.material,
            validTo: opts.expiresIn ? new Date(Date.now() + opts.expiresIn * 86_400_000) : undefined,
            materialDir: join(opts.stateDir, 'byok'),
          }),
        );
        if (opts.json) {
          printJson(io, created);
          return;
        }
        io.write(`${created.keyArn}\n`);
        if (created.keyMaterialId) {
          io.write(`  key material ${created.keyMaterialId}\n  material kept in ${created.materialFile}\n`);
        }
      },
    );
  return kms;
}
