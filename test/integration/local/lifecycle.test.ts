import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LocalStack } from '../../../local/services/server';
import { runningEndpoint } from '../../../local/state/store';
import { LINK_SECRET_FILE } from '../../../local/constants';
import { keymat } from '../../helpers/run-cli';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'keymat-lifecycle-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

/** A TCP port that was free a moment ago. */
async function freePort(): Promise<number> {
  const probe = createServer();
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
  const { port } = probe.address() as { port: number };
  await new Promise<void>((resolve) => probe.close(() => resolve()));
  return port;
}

describe('starting the local stack', () => {
  it('closes the server and gives the folder up when preparing the workflow fails', async () => {
    const port = await freePort();
    await expect(
      LocalStack.start({
        stateDir: dir,
        port,
        workflow: () => {
          throw new Error('synthesis failed');
        },
      }),
    ).rejects.toThrow('synthesis failed');
    expect(runningEndpoint(dir)).toBeUndefined();

    // The port and the state folder are free again: a second start on both succeeds.
    const stack = await LocalStack.start({ stateDir: dir, port });
    expect(stack.endpoint).toBe(`http://127.0.0.1:${port}`);
    await stack.close();
  });

  it('refuses a state folder whose approval-link secret is empty, and listens on nothing', async () => {
    writeFileSync(join(dir, LINK_SECRET_FILE), '', { mode: 0o600 });
    const port = await freePort();
    await expect(LocalStack.start({ stateDir: dir, port })).rejects.toThrow(/does not hold an approval-link secret/);
    expect(runningEndpoint(dir)).toBeUndefined();
    const stack = await LocalStack.start({ stateDir: join(dir, 'other'), port });
    await stack.close();
  });

  it('makes `keymat local serve` exit 1 with one line when the start fails', async () => {
    const notAFolder = join(dir, 'file');
    writeFileSync(notAFolder, '');
    const result = await keymat(['local', 'serve', '--state-dir', notAFolder]);
    expect(result.code).toBe(1);
    expect(result.stderr.trim().split('\n')).toEqual([
      expect.stringMatching(/cannot make the state folder .*file: .*EEXIST/),
    ]);
    expect(result.stdout).toBe('');
    expect(runningEndpoint(dir)).toBeUndefined();
  });
});
