import { CreateKeyCommand, KMSClient, ListKeysCommand } from '@aws-sdk/client-kms';
import Database from 'better-sqlite3';
import { buildSync } from 'esbuild';
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, statSync, truncateSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { LocalStack } from '../../../local/services/server';
import { readOutbox, runningEndpoint, SCHEMA_VERSION, StateStore } from '../../../local/state/store';
import { keymat, serve } from '../../helpers/run-cli';
import { LOCAL_CREDENTIALS, STATE_DB } from '../../../local/constants';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'keymat-store-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

const kmsOf = (endpoint: string): KMSClient =>
  new KMSClient({ endpoint, region: 'us-east-1', credentials: LOCAL_CREDENTIALS, maxAttempts: 1 });

const keyIds = async (kms: KMSClient): Promise<string[]> => {
  const ids: string[] = [];
  let marker: string | undefined;
  do {
    const page = await kms.send(new ListKeysCommand({ Marker: marker, Limit: 1000 }));
    ids.push(...(page.Keys ?? []).map((k) => k.KeyId as string));
    marker = page.NextMarker;
  } while (marker);
  return ids;
};

/** Mounts a tmpfs of `size` on a new folder, or says why it cannot (not root, no mount permission). */
function mountTmpfs(size: string): { path: string; remount: (options: string) => void; unmount: () => void } | string {
  const path = mkdtempSync(join(tmpdir(), 'keymat-tmpfs-'));
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${size},mode=0700`, 'tmpfs', path], { stdio: 'pipe' });
  } catch (err) {
    rmSync(path, { recursive: true, force: true });
    return `mounting a tmpfs is not allowed here (${(err as Error).message.split('\n')[0]})`;
  }
  return {
    path,
    remount: (options) => execFileSync('mount', ['-o', `remount,${options}`, path], { stdio: 'pipe' }),
    unmount: () => {
      execFileSync('umount', [path], { stdio: 'pipe' });
      rmSync(path, { recursive: true, force: true });
    },
  };
}

describe('the state database', () => {
  it('answers errors once the disk is full, stays alive, and loses no acknowledged key after a restart', async () => {
    const tmpfs = mountTmpfs('256k');
    if (typeof tmpfs === 'string') {
      console.warn(`full-disk test skipped: ${tmpfs}`);
      return;
    }
    try {
      const stateDir = join(tmpfs.path, 'state');
      let stack = await LocalStack.start({ stateDir });
      const kms = kmsOf(stack.endpoint);
      const acknowledged: string[] = [];
      const refusals: string[] = [];
      while (refusals.length < 5 && acknowledged.length < 5000) {
        try {
          const created = await kms.send(new CreateKeyCommand({ Description: 'x'.repeat(2000) }));
          acknowledged.push(created.KeyMetadata?.KeyId as string);
        } catch (err) {
          refusals.push(`${(err as Error).name}: ${(err as Error).message}`);
        }
      }
      expect(refusals[0]).toMatch(/^KMSInternalException: .*disk is full.*nothing was changed/);
      // Still serving: a read is answered, and no refused key exists.
      const served = await keyIds(kms);
      expect(served).toEqual(expect.arrayContaining(acknowledged));
      expect(served).toHaveLength(acknowledged.length + 1); // and the attestation key
      kms.destroy();
      await stack.close();

      tmpfs.remount('size=4m');
      stack = await LocalStack.start({ stateDir });
      const again = kmsOf(stack.endpoint);
      expect(await keyIds(again)).toEqual(expect.arrayContaining(acknowledged));
      expect(await keyIds(again)).toHaveLength(acknowledged.length + 1);
      again.destroy();
      await stack.close();
    } finally {
      tmpfs.unmount();
    }
  });

  it('serves a read-only state folder: reads are answered, writes refused, and the server stays alive', async () => {
    const tmpfs = mountTmpfs('4m');
    if (typeof tmpfs === 'string') {
      console.warn(`read-only folder test skipped: ${tmpfs}`);
      return;
    }
    try {
      const stateDir = join(tmpfs.path, 'state');
      let stack = await LocalStack.start({ stateDir });
      let kms = kmsOf(stack.endpoint);
      const created = await kms.send(new CreateKeyCommand({}));
      kms.destroy();
      await stack.close();

      tmpfs.remount('ro');
      stack = await LocalStack.start({ stateDir });
      kms = kmsOf(stack.endpoint);
      expect(await keyIds(kms)).toContain(created.KeyMetadata?.KeyId);
      await expect(kms.send(new CreateKeyCommand({}))).rejects.toThrow(/read-only; nothing was changed/);
      expect(await keyIds(kms)).toHaveLength(2);
      kms.destroy();
      await stack.close();
    } finally {
      tmpfs.unmount();
    }
  });

  it('refuses a second `keymat local serve` on one folder within a second, naming the first', async () => {
    const first = await serve(['local', 'serve', '--state-dir', dir]);
    try {
      expect(runningEndpoint(dir)).toBe(first.endpoint);
      const started = Date.now();
      const second = await keymat(['local', 'serve', '--state-dir', dir]);
      const took = Date.now() - started;
      expect(second.code).toBe(1);
      expect(second.stderr.trim().split('\n')).toEqual([
        expect.stringMatching(new RegExp(`already served by keymat \\(pid \\d+ .*at ${first.endpoint}\\)`)),
      ]);
      expect(took).toBeLessThan(1000 + cliStartupAllowance);
    } finally {
      await first.stop();
    }
    expect(runningEndpoint(dir)).toBeUndefined();
  });

  it('keeps every key printed by parallel `keymat local kms create-key` with no stack running', async () => {
    const runs = await Promise.all(
      Array.from({ length: 4 }, () => keymat(['local', 'kms', 'create-key', '--state-dir', dir, '--no-material'])),
    );
    expect(runs.map((r) => r.stderr)).toEqual(['', '', '', '']);
    const printed = runs.filter((r) => r.code === 0).map((r) => r.stdout.trim().split('/').pop() as string);
    expect(printed).toHaveLength(4);
    const stack = await LocalStack.start({ stateDir: dir });
    const kms = kmsOf(stack.endpoint);
    expect(await keyIds(kms)).toEqual(expect.arrayContaining(printed));
    kms.destroy();
    await stack.close();
  });

  it('takes over a lease whose PID is alive but is another process (pid 1)', async () => {
    let stack = await LocalStack.start({ stateDir: dir });
    await stack.close();
    const db = new Database(join(dir, STATE_DB));
    db.prepare(
      "INSERT OR REPLACE INTO lease (id, token, pid, host, started, since, heartbeat, endpoint) VALUES (1, 'x', 1, ?, 'another-boot:1', 0, 0, 'http://127.0.0.1:1')",
    ).run(hostname());
    db.close();
    expect(runningEndpoint(dir)).toBeUndefined();
    stack = await LocalStack.start({ stateDir: dir });
    expect(runningEndpoint(dir)).toBe(stack.endpoint);
    await stack.close();
  });

  it('keeps every acknowledged write through 50 kill -9 during a write burst', async () => {
    const script = join(dir, 'write-burst.js');
    // One minified file, as the CLI ships (the native SQLite binding left to node_modules): each of the 50 rounds
    // starts it afresh.
    buildSync({
      entryPoints: [join(__dirname, 'fixtures', 'write-burst.ts')],
      bundle: true,
      platform: 'node',
      external: ['better-sqlite3'],
      minify: true,
      outfile: script,
      logLevel: 'error',
    });
    const stateDir = join(dir, 'state');
    const acknowledged: string[] = [];
    for (let round = 0; round < 50; round++) {
      const child = spawn(process.execPath, [script, stateDir], {
        stdio: ['ignore', 'pipe', 'pipe'],
        env: { ...process.env, NODE_PATH: join(__dirname, '..', '..', '..', 'node_modules') },
      });
      let out = '';
      let err = '';
      child.stderr.on('data', (d: Buffer) => (err += d.toString()));
      const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
      await new Promise<void>((resolve) => {
        child.stdout.on('data', (d: Buffer) => {
          out += d.toString();
          // Killed a few writes in, at a moment that varies from round to round.
          if (out.split('\n').length > 3 + (round % 7)) resolve();
        });
        void exited.then(() => resolve());
      });
      child.kill('SIGKILL');
      await exited;
      expect(err).toBe('');
      acknowledged.push(...out.split('\n').filter((line, i, all) => line && i < all.length - 1));
    }
    const store = StateStore.open(stateDir);
    const keys = Object.values(store.loadKms().keys).map((k) => k.keyId);
    const histories = Object.values(store.loadExecutions()).flatMap((e) =>
      e.events.map((event) => (event.stateEnteredEventDetails as { name: string }).name),
    );
    store.close();
    const messages = readOutbox(stateDir).map((m) => m.messageId);
    expect(acknowledged.length).toBeGreaterThan(150);
    expect(keys).toEqual(expect.arrayContaining(acknowledged));
    expect(messages).toEqual(expect.arrayContaining(acknowledged));
    expect(histories).toEqual(expect.arrayContaining(acknowledged));
  });
});

/** What starting the built CLI costs on a busy test machine, on top of the second the refusal may take. */
const cliStartupAllowance = 2000;

describe('a state folder that cannot be served', () => {
  const refusedWithOneLine = async (pattern: RegExp): Promise<void> => {
    const started = Date.now();
    const result = await keymat(['local', 'serve', '--state-dir', dir]);
    expect(result.code).toBe(1);
    expect(result.stdout).toBe('');
    expect(result.stderr.trim().split('\n')).toEqual([expect.stringMatching(pattern)]);
    expect(Date.now() - started).toBeLessThan(10_000);
  };

  it('refuses a damaged database with one line, keeping the file', async () => {
    const stack = await LocalStack.start({ stateDir: dir });
    await stack.close();
    const file = join(dir, STATE_DB);
    truncateSync(file, 1000);
    await refusedWithOneLine(/state\.db: .*damaged.*keeps the file.*mv /);
    expect(statSync(file).size).toBe(1000);
  });

  it('refuses an empty database with one line', async () => {
    writeFileSync(join(dir, STATE_DB), '');
    await refusedWithOneLine(/state\.db: the database is empty \(0 bytes\)/);
    expect(existsSync(join(dir, STATE_DB))).toBe(true);
  });

  it('refuses a file that is not a database with one line', async () => {
    writeFileSync(join(dir, STATE_DB), 'not a database at all, but long enough to have a header of sorts'.repeat(20));
    await refusedWithOneLine(/state\.db: .*(damaged|not a keymat state database)/);
  });

  it('refuses a database of a newer schema version, saying which', async () => {
    const stack = await LocalStack.start({ stateDir: dir });
    await stack.close();
    const db = new Database(join(dir, STATE_DB));
    db.pragma(`user_version = ${SCHEMA_VERSION + 1}`);
    db.close();
    await refusedWithOneLine(new RegExp(`schema version ${SCHEMA_VERSION + 1}, newer than this keymat's`));
  });

  it('refuses an empty approval-link secret, which would let anyone sign links', async () => {
    writeFileSync(join(dir, 'approval-link-secret'), '', { mode: 0o600 });
    await refusedWithOneLine(/approval-link-secret does not hold an approval-link secret .*holds 0 characters/);
  });
});

describe('a state database of schema version 2', () => {
  it('is migrated at open: each execution keeps its history, with its events as rows, and messages are found by id', async () => {
    const stack = await LocalStack.start({ stateDir: dir });
    await stack.close();
    // Version 2 kept each execution's history inside its record, and had no index on the outbox's MessageIds and no S3
    // objects.
    const arn = 'arn:aws:states:us-east-1:111122223333:execution:keymat-deletion:keymat-CHG-2';
    const row = {
      executionArn: arn,
      name: 'keymat-CHG-2',
      stateMachineArn: 'arn:aws:states:us-east-1:111122223333:stateMachine:keymat-deletion',
      input: '{}',
      status: 'RUNNING',
      startDate: 1,
    };
    const events = [
      {
        id: 1,
        previousEventId: 0,
        timestamp: 2,
        type: 'ExecutionStarted',
        executionStartedEventDetails: { input: '{}' },
      },
      { id: 2, previousEventId: 1, timestamp: 3, type: 'TaskStateEntered', stateEnteredEventDetails: { name: 'A' } },
    ];
    const message = { messageId: 'm-2', time: 't', topicArn: 'arn:t', message: 'kept', attributes: {} };
    const old = new Database(join(dir, STATE_DB));
    old.exec('DROP INDEX outbox_message_id; DROP TABLE execution_events; DROP TABLE s3_objects;');
    old.prepare('INSERT INTO executions (arn, record) VALUES (?, ?)').run(arn, JSON.stringify({ ...row, events }));
    old.prepare('INSERT INTO outbox (message) VALUES (?)').run(JSON.stringify(message));
    old.pragma('user_version = 2');
    old.close();

    const store = StateStore.open(dir);
    store.claim();
    expect(store.loadExecutions()).toEqual({ [arn]: { ...row, events } });
    expect(store.outboxMessage('m-2')).toEqual(message);
    expect(store.outboxMessage('m-unknown')).toBeUndefined();
    // An event is appended as a row of its own: the execution's row is not written again.
    const third = { id: 3, previousEventId: 2, timestamp: 4, type: 'TaskStateExited' };
    store.saveExecutions([{ executionArn: arn, events: [third] }]);
    expect(store.loadExecutions()[arn]?.events).toEqual([...events, third]);
    store.close();
    const db = new Database(join(dir, STATE_DB), { readonly: true });
    expect(db.pragma('user_version', { simple: true })).toBe(SCHEMA_VERSION);
    expect(JSON.parse((db.prepare('SELECT record FROM executions').get() as { record: string }).record)).toEqual(row);
    expect(db.prepare('SELECT count(*) AS n FROM execution_events').get()).toEqual({ n: 3 });
    const plan = db
      .prepare("EXPLAIN QUERY PLAN SELECT message FROM outbox WHERE json_extract(message, '$.messageId') = 'm-2'")
      .all() as { detail: string }[];
    expect(plan.map((p) => p.detail).join('\n')).toMatch(/USING INDEX outbox_message_id/);
    db.close();
  });
});
