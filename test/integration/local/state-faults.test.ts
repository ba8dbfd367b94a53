import { DescribeExecutionCommand, SFNClient } from '@aws-sdk/client-sfn';
import Database from 'better-sqlite3';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import { copyFileSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, truncateSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { createExternalKey, localKmsClient } from '../../../local/kms/byok';
import { LocalStack } from '../../../local/services/server';
import {
  LocalStateError,
  readOutbox,
  runningEndpoint,
  SCHEMA_VERSION,
  StateFolderBusyError,
  StateStore,
} from '../../../local/state/store';
import { prepareWorkflow } from '../../../local/workflow/workflow';
import { gatewayAs } from '../../helpers/changes';
import { errorOf } from '../../helpers/local-stack';
import { DEFAULT_REGION, INTERNAL_KEY_FILE, LOCAL_CREDENTIALS, STATE_DB } from '../../../local/constants';
import type { KeyRecord } from '../../../local/kms/model';

/**
 * The state folder's faults, each either served or refused with one line naming the file and what to do, the
 * damaged files kept byte for byte. A folder name with a space and a quote makes every printed command a test of
 * its quoting.
 */
let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "keymat state's "));
});
afterEach(() => {
  jest.restoreAllMocks();
  rmSync(dir, { recursive: true, force: true });
});

const sha256 = (file: string): string => createHash('sha256').update(readFileSync(file)).digest('hex');
/** The sha256 of every file of a folder that holds data, by name: a `-shm` is SQLite's scratch index of the WAL. */
const fingerprint = (folder: string): Record<string, string> =>
  Object.fromEntries(
    readdirSync(folder)
      .filter((f) => !f.endsWith('-shm'))
      .map((f) => [f, sha256(join(folder, f))]),
  );

const key = (id: string): KeyRecord => ({
  keyId: id,
  arn: `arn:aws:kms:us-east-1:111122223333:key/${id}`,
  region: 'us-east-1',
  description: 'kept',
  origin: 'AWS_KMS',
  creationDate: 1,
  enabled: true,
  multiRegion: false,
  materials: [],
  tags: [],
});

/**
 * A folder as a kill -9 leaves it: `state.db` with committed keys and outbox messages still in its `-wal`, copied
 * while the writer held it open (the copy's `-shm` left out, as a reboot loses it).
 */
function crashedFolder(): { folder: string; file: string; wal: string } {
  const live = join(dir, 'live');
  const store = StateStore.open(live);
  store.claim();
  const state = store.loadKms();
  for (const id of ['k1', 'k2', 'k3']) {
    state.keys[key(id).arn] = key(id);
    store.commitKms(state);
    store.appendOutbox({ messageId: id, time: 't', topicArn: 'arn:t', message: id, attributes: {} });
  }
  const folder = join(dir, 'crashed');
  fs.mkdirSync(folder);
  const file = join(folder, STATE_DB);
  copyFileSync(join(live, STATE_DB), file);
  copyFileSync(join(live, `${STATE_DB}-wal`), `${file}-wal`);
  store.close();
  return { folder, file, wal: `${file}-wal` };
}

describe('a database beside its WAL', () => {
  it('is read with the WAL by a reader that leaves both files byte for byte', () => {
    const { folder, file, wal } = crashedFolder();
    const before = [sha256(file), sha256(wal)];
    expect(readOutbox(folder).map((m) => m.messageId)).toEqual(['k1', 'k2', 'k3']);
    expect([sha256(file), sha256(wal)]).toEqual(before);
  });

  it('is refused when damaged, with one line naming both files, and neither is checkpointed nor removed', () => {
    const { folder, file, wal } = crashedFolder();
    truncateSync(file, 1000);
    const before = [sha256(file), sha256(wal)];
    const err = errorOfSync(() => StateStore.open(folder));
    expect(err).toBeInstanceOf(LocalStateError);
    expect(err.message.split('\n')).toHaveLength(1);
    expect(err.message).toContain(`${file}: `);
    expect(err.message).toContain('keymat keeps the file and its state.db-wal as they are');
    expect(existsSync(wal)).toBe(true);
    expect([sha256(file), sha256(wal)]).toEqual(before);

    // The advice, pasted into a shell, moves both away under names sqlite3 reads together; the folder then starts empty.
    execFileSync('sh', ['-c', /\((mv .*)\) to start/.exec(err.message)?.[1] as string]);
    expect(sha256(`${file}.damaged`)).toBe(before[0]);
    expect(sha256(`${file}.damaged-wal`)).toBe(before[1]);
    const fresh = StateStore.open(folder);
    expect(fresh.loadKms().keys).toEqual({});
    fresh.close();
  });
});

describe('a journal left without its database', () => {
  it('refuses to make a new state.db beside a -wal, keeping it, until it is moved away', () => {
    const { folder, file, wal: orphan } = crashedFolder();
    rmSync(file);
    const before = sha256(orphan);
    const err = errorOfSync(() => StateStore.open(folder));
    expect(err).toBeInstanceOf(LocalStateError);
    expect(err.message.split('\n')).toHaveLength(1);
    expect(err.message).toMatch(new RegExp(`^${escape(file)} is missing but state\\.db-wal is still there`));
    expect(existsSync(file)).toBe(false);
    expect(sha256(orphan)).toBe(before);

    execFileSync('sh', ['-c', /start with an empty state \((mv .*)\)$/.exec(err.message)?.[1] as string]);
    expect(sha256(`${orphan}.orphaned`)).toBe(before);
    const fresh = StateStore.open(folder);
    expect(fresh.loadKms().keys).toEqual({});
    expect(fresh.readOutbox()).toEqual([]);
    fresh.close();
  });

  it('removes an empty -wal and a -shm, which hold no data, and makes the new database', () => {
    const file = join(dir, STATE_DB);
    fs.writeFileSync(`${file}-wal`, '');
    fs.writeFileSync(`${file}-shm`, 'an index of a WAL that is gone');
    const fresh = StateStore.open(dir);
    expect(fresh.loadKms().keys).toEqual({});
    fresh.close();
    expect(existsSync(`${file}-shm`)).toBe(false);
  });
});

describe('the lease', () => {
  const leaseFrom = (host: string, heartbeat: number): void => {
    StateStore.open(dir).close();
    const db = new Database(join(dir, STATE_DB));
    db.prepare(
      "INSERT INTO lease (id, token, pid, host, started, since, heartbeat, endpoint) VALUES (1, 'other', 4242, ?, '', 0, ?, 'http://127.0.0.1:1')",
    ).run(host, heartbeat);
    db.close();
  };

  it('is taken over, saying so, when another host wrote its heartbeat further ahead of this clock than allowed', () => {
    leaseFrom('a-host-ahead', Date.now() + 3_600_000);
    const store = StateStore.open(dir);
    try {
      expect(store.claim()).toMatch(
        /^took over the lease of pid 4242 on a-host-ahead .*: its heartbeat is 3600 s ahead of this machine's clock, more than the 30 s allowed, so it is taken for stale \(check both machines' clocks\)$/,
      );
      store.advertise('http://127.0.0.1:2');
    } finally {
      store.close();
    }
  });

  it('still holds the folder when another host is ahead within the tolerance', () => {
    leaseFrom('a-host-ahead', Date.now() + 10_000);
    const store = StateStore.open(dir);
    try {
      expect(() => store.claim()).toThrow(StateFolderBusyError);
    } finally {
      store.close();
    }
  });

  it('refuses a read-only store beside a live owner, which would serve what the owner no longer holds', () => {
    const owner = StateStore.open(dir);
    owner.claim();
    const reader = StateStore.open(dir, { readOnly: true });
    try {
      expect(() => reader.claim()).toThrow(StateFolderBusyError);
      expect(() => reader.claim()).toThrow(/is read-only here and served by keymat \(pid \d+ /);
    } finally {
      reader.close();
      owner.close();
    }
    const alone = StateStore.open(dir, { readOnly: true });
    expect(alone.claim()).toBeUndefined();
    alone.close();
  });
});

describe('a reader', () => {
  it('does not migrate an older schema: it refuses with one line, the file kept byte for byte', () => {
    const owner = StateStore.open(dir);
    owner.claim();
    owner.close();
    const db = new Database(join(dir, STATE_DB));
    db.exec('DROP INDEX outbox_message_id;');
    db.pragma('user_version = 2');
    db.close();
    const before = fingerprint(dir);
    const err = errorOfSync(() => readOutbox(dir));
    expect(err.message).toBe(
      `${join(dir, STATE_DB)} has schema version 2, older than this keymat's ${SCHEMA_VERSION}, and a reader does not migrate it: start the local stack on a writable folder once (keymat local serve --state-dir '${dir.replace(/'/g, "'\\''")}') to migrate it`,
    );
    expect(fingerprint(dir)).toEqual(before);
    // Whether a stack serves it needs only the lease, which every version has: no stack does, and nothing is written.
    expect(runningEndpoint(dir)).toBeUndefined();
    expect(fingerprint(dir)).toEqual(before);
  });
});

describe('a read-only state folder holding a finished change', () => {
  it('is served read-only: the change and the outbox are read, and no byte of the folder is written', async () => {
    const tmpfs = mountTmpfs('4m');
    if (typeof tmpfs === 'string') {
      console.warn(`read-only finished change test skipped: ${tmpfs}`);
      return;
    }
    const serve = (stateDir: string) =>
      LocalStack.start({
        stateDir,
        // No recovery proof: the change is to wait for its approval, where bob's rejection ends it.
        workflow: (endpoint) =>
          prepareWorkflow(endpoint, { approvalTimeoutSeconds: 120, quorum: 1, recoveryProof: 'off' }),
      });
    try {
      const stateDir = join(tmpfs.path, 'state');
      let stack = await serve(stateDir);
      const key = await createExternalKey(localKmsClient(stack.endpoint), { materialDir: join(tmpfs.path, 'byok') });
      const started = await gatewayAs(stack.endpoint, 'alice', '/changes', {
        keyId: key.keyArn,
        changeId: 'CHG-RO',
        reason: 'read-only',
        waitSeconds: 0,
      });
      const { executionArn } = started.body as { executionArn: string };
      let sfn = new SFNClient({ endpoint: stack.endpoint, region: DEFAULT_REGION, credentials: LOCAL_CREDENTIALS });
      for (let i = 0; i < 200 && readOutbox(stateDir).length === 0; i++) await sleep(25);
      expect((await gatewayAs(stack.endpoint, 'bob', '/reject', { execution: executionArn })).status).toBe(200);
      let status: string | undefined;
      for (let i = 0; i < 200 && status !== 'FAILED'; i++, await sleep(25)) {
        status = (await sfn.send(new DescribeExecutionCommand({ executionArn }))).status;
      }
      expect(status).toBe('FAILED');
      sfn.destroy();
      await stack.close();
      const outbox = readOutbox(stateDir);
      expect(outbox.length).toBeGreaterThan(0);

      execFileSync('mount', ['-o', 'remount,ro', tmpfs.path], { stdio: 'pipe' });
      const before = fingerprint(stateDir);
      stack = await serve(stateDir);
      sfn = new SFNClient({ endpoint: stack.endpoint, region: DEFAULT_REGION, credentials: LOCAL_CREDENTIALS });
      expect((await sfn.send(new DescribeExecutionCommand({ executionArn }))).status).toBe('FAILED');
      expect(readOutbox(stateDir)).toEqual(outbox);
      sfn.destroy();
      await stack.close();
      expect(fingerprint(stateDir)).toEqual(before);
    } finally {
      tmpfs.unmount();
    }
  });
});

describe('a full disk at start', () => {
  it('ends the start with one line naming the database, having changed nothing', async () => {
    await (await LocalStack.start({ stateDir: dir })).close();
    const before = fingerprint(dir);
    // SQLite's own error, as the native binding raises it when switching the journal finds no space.
    const pragma = Database.prototype.pragma;
    jest.spyOn(Database.prototype, 'pragma').mockImplementation(function (this: Database.Database, source, options) {
      if (source === 'journal_mode = WAL') throw new Database.SqliteError('database or disk is full', 'SQLITE_FULL');
      return pragma.call(this, source, options);
    });
    const err = await errorOf(() => LocalStack.start({ stateDir: dir }));
    expect(err).toBeInstanceOf(LocalStateError);
    expect(err.message).toBe(
      `${join(dir, STATE_DB)}: could not open the database for writing: the disk is full (SQLITE_FULL); nothing was changed: free space on its disk and start again`,
    );
    expect(fingerprint(dir)).toEqual(before);
  });

  it("names the internal credentials' file when the disk has no room for it", async () => {
    // The file is written whole under another name before it is linked into place: that name leads to /dev/full,
    // which answers every write with ENOSPC, as a full disk does.
    fs.symlinkSync('/dev/full', join(dir, `${INTERNAL_KEY_FILE}.${process.pid}.new`));
    const err = await errorOf(() => LocalStack.start({ stateDir: dir }));
    expect(err).toBeInstanceOf(LocalStateError);
    expect(err.message).toBe(
      `${join(dir, INTERNAL_KEY_FILE)}: could not write it: the disk is full (ENOSPC); nothing was changed: free space on its disk and start again`,
    );
    expect(existsSync(join(dir, INTERNAL_KEY_FILE))).toBe(false);
  });

  it('on a real full disk, ends the start of a folder that has state with one line naming the database', async () => {
    const tmpfs = mountTmpfs('256k');
    if (typeof tmpfs === 'string') {
      console.warn(`full-disk start test skipped: ${tmpfs}`);
      return;
    }
    try {
      const stateDir = join(tmpfs.path, 'state');
      await (await LocalStack.start({ stateDir })).close();
      const before = fingerprint(stateDir);
      try {
        execFileSync('dd', ['if=/dev/zero', `of=${join(tmpfs.path, 'filler')}`, 'bs=4k'], { stdio: 'ignore' });
      } catch {
        // dd ends with an error once the disk is full, which is the point.
      }
      const err = await errorOf(() => LocalStack.start({ stateDir }));
      expect(err).toBeInstanceOf(LocalStateError);
      expect(err.message).toMatch(
        new RegExp(
          `^${escape(join(stateDir, STATE_DB))}: .*the disk is full \\(SQLITE_FULL\\).*free space on its disk`,
        ),
      );
      expect(fingerprint(stateDir)).toEqual(before);
    } finally {
      tmpfs.unmount();
    }
  });
});

/** Mounts a tmpfs of `size` on a new folder, or says why it cannot (not root, no mount permission). */
function mountTmpfs(size: string): { path: string; unmount: () => void } | string {
  const path = mkdtempSync(join(tmpdir(), 'keymat-tmpfs-'));
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${size},mode=0700`, 'tmpfs', path], { stdio: 'pipe' });
  } catch (err) {
    rmSync(path, { recursive: true, force: true });
    return `mounting a tmpfs is not allowed here (${(err as Error).message.split('\n')[0]})`;
  }
  return {
    path,
    unmount: () => {
      // Lazily: a handle a failed test left open must not hide that test's own failure behind "target is busy".
      execFileSync('umount', ['--lazy', path], { stdio: 'pipe' });
      rmSync(path, { recursive: true, force: true });
    },
  };
}

const errorOfSync = (run: () => unknown): Error => {
  try {
    run();
  } catch (err) {
    return err as Error;
  }
  throw new Error('expected an error');
};

const escape = (text: string): string => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
