import Database from 'better-sqlite3';
import { randomBytes } from 'node:crypto';
import {
  accessSync,
  chmodSync,
  closeSync,
  constants,
  existsSync,
  fsyncSync,
  mkdirSync,
  linkSync,
  openSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
} from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { errorMessage } from '../../core/errors';
import { shellQuote } from '../../core/text';
import type * as z from '../../core/schema';
import { STATE_DB } from '../constants';
import { LocalStateError, StateFolderBusyError } from './errors';
import { aliasAccount, type AliasRecord, type KmsState } from '../kms/model';
import {
  aliasRecordSchema,
  executionRowSchema,
  importTokenRecordSchema,
  keyRecordSchema,
  outboxEventSchema,
  outboxMessageSchema,
  requestLogEntrySchema,
  sfnEventSchema,
  type ExecutionRecord,
  type ExecutionRow,
  type OutboxEvent,
  type OutboxMessage,
  type RequestLogEntry,
  type SfnEvent,
} from './records';

/** Marks a SQLite file as keymat's state database ('kmat'). */
const APPLICATION_ID = 0x6b6d6174;

/**
 * The schema, one migration per version: the database's `user_version` is the number of migrations applied. A new
 * version appends a migration and never edits an applied one.
 */
const MIGRATIONS: readonly string[] = [
  `CREATE TABLE lease (
     id INTEGER PRIMARY KEY CHECK (id = 1),
     token TEXT NOT NULL,
     pid INTEGER NOT NULL,
     host TEXT NOT NULL,
     started TEXT NOT NULL,
     since INTEGER NOT NULL,
     heartbeat INTEGER NOT NULL,
     endpoint TEXT
   );
   CREATE TABLE kms_keys (arn TEXT PRIMARY KEY, record TEXT NOT NULL);
   CREATE TABLE kms_aliases (id TEXT PRIMARY KEY, record TEXT NOT NULL);
   CREATE TABLE kms_import_tokens (token TEXT PRIMARY KEY, record TEXT NOT NULL);
   CREATE TABLE executions (arn TEXT PRIMARY KEY, record TEXT NOT NULL);
   CREATE TABLE outbox (seq INTEGER PRIMARY KEY AUTOINCREMENT, message TEXT NOT NULL);
   CREATE TABLE requests (seq INTEGER PRIMARY KEY AUTOINCREMENT, entry TEXT NOT NULL);`,
  `CREATE TABLE events (seq INTEGER PRIMARY KEY AUTOINCREMENT, event TEXT NOT NULL);`,
  // The engine finds the approval request it just published by its MessageId.
  `CREATE INDEX outbox_message_id ON outbox (json_extract(message, '$.messageId'));`,
  // Each history event a row of its own, so that recording one appends a row instead of rewriting the execution.
  `CREATE TABLE execution_events (
     arn TEXT NOT NULL,
     id INTEGER NOT NULL,
     event TEXT NOT NULL,
     PRIMARY KEY (arn, id)
   ) WITHOUT ROWID;
   INSERT INTO execution_events (arn, id, event)
     SELECT executions.arn, json_extract(history.value, '$.id'), history.value
     FROM executions, json_each(executions.record, '$.events') AS history;
   UPDATE executions SET record = json_remove(record, '$.events');`,
  // The local S3's objects: the fleet scan's results, as its Distributed Map's ResultWriter writes them.
  `CREATE TABLE s3_objects (
     bucket TEXT NOT NULL,
     key TEXT NOT NULL,
     body BLOB NOT NULL,
     modified TEXT NOT NULL,
     PRIMARY KEY (bucket, key)
   ) WITHOUT ROWID;`,
];

/** The schema version this keymat writes. */
export const SCHEMA_VERSION = MIGRATIONS.length;

/** How long a write waits for another connection's write to finish. */
const BUSY_TIMEOUT_MS = 5_000;
/** How often a serving stack proves it is alive, for a second host that cannot see its process. */
const HEARTBEAT_MS = 5_000;
/**
 * A lease from another host whose heartbeat is older than this is stale; so is one whose heartbeat is further than
 * this ahead of this machine's clock, which no live owner writes (its clock is wrong, or the row was copied from one
 * that was): waiting for the time to catch up could block the folder for good.
 */
const STALE_AFTER_MS = 30_000;

export { LocalStateError, StateFolderBusyError } from './errors';

/** What a SQLite or file system error means for the state folder, in a few words. */
function fault(err: unknown): string {
  const code = String((err as { code?: unknown }).code ?? '');
  const message = errorMessage(err);
  if (code.startsWith('SQLITE_FULL') || code === 'ENOSPC') return `the disk is full (${code})`;
  if (code.startsWith('SQLITE_READONLY') || code === 'EROFS' || code === 'EACCES' || code === 'EPERM') {
    return `the state folder is read-only (${code})`;
  }
  if (code.startsWith('SQLITE_IOERR') || code === 'EIO') return `an I/O error (${code}: ${message})`;
  if (code.startsWith('SQLITE_CORRUPT') || code === 'SQLITE_NOTADB') return `the database is damaged (${message})`;
  return code ? `${code}: ${message}` : message;
}

/** What to do about a fault {@link fault} describes, when the answer is not to run the command again. */
function remedy(err: unknown): string {
  const code = String((err as { code?: unknown }).code ?? '');
  if (code.startsWith('SQLITE_FULL') || code === 'ENOSPC') return 'free space on its disk and start again';
  if (code.startsWith('SQLITE_READONLY') || code === 'EROFS' || code === 'EACCES' || code === 'EPERM') {
    return 'make the state folder writable and start again';
  }
  return 'start again once it is mended';
}

/**
 * A file of the state folder that could not be made or written at start: one line naming the file, the fault and
 * what to do.
 */
export const unwritable = (file: string, what: string, err: unknown): LocalStateError =>
  new LocalStateError(`${file}: could not ${what}: ${fault(err)}; nothing was changed: ${remedy(err)}`, {
    cause: err,
  });

const damaged = (file: string, what: string, cause?: unknown): LocalStateError => {
  const wal = `${file}-wal`;
  const kept = existsSync(wal)
    ? `the file and its ${STATE_DB}-wal as they are: move both away (mv ${shellQuote(file)} ${shellQuote(`${file}.damaged`)} && mv ${shellQuote(wal)} ${shellQuote(`${file}.damaged-wal`)})`
    : `the file as it is: move it away (mv ${shellQuote(file)} ${shellQuote(`${file}.damaged`)})`;
  return new LocalStateError(
    `${file}: ${what}; keymat keeps ${kept} to start with an empty state, or salvage it with sqlite3 ${shellQuote(file)} .recover`,
    { cause },
  );
};

/** The lease row: who owns the state folder, and where it serves. */
interface Owner {
  token: string;
  pid: number;
  host: string;
  /** The process's start (boot id and start time), so a PID reused by another process is not taken for the owner. */
  started: string;
  since: number;
  heartbeat: number;
  endpoint: string | null;
}

/** The lease tokens this process holds. */
const heldHere = new Set<string>();

/** The boot and start time of a process, where the system tells them (Linux); empty elsewhere. */
function processStart(pid: number): string {
  try {
    const boot = readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The fields after the command name (which may hold spaces) start with the state, field 3; start time is 22.
    const startTime = stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19];
    return startTime ? `${boot}:${startTime}` : '';
  } catch {
    return '';
  }
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Whether the lease's owner still runs: on this host, its PID is alive and is the same process (its start time
 * matches); on another host, its heartbeat is recent.
 */
function ownerAlive(owner: Owner, now: number): boolean {
  // This process knows its own leases: one no open store holds was left by a close that could not remove it.
  if (owner.pid === process.pid && owner.host === hostname()) return heldHere.has(owner.token);
  if (owner.host !== hostname()) return now - owner.heartbeat < STALE_AFTER_MS && !heartbeatAhead(owner, now);
  if (!pidAlive(owner.pid)) return false;
  const started = processStart(owner.pid);
  return !started || !owner.started || started === owner.started;
}

/** Whether a lease's heartbeat lies further ahead of this machine's clock than {@link STALE_AFTER_MS}. */
const heartbeatAhead = (owner: Owner, now: number): boolean => owner.heartbeat - now > STALE_AFTER_MS;

const describeOwner = (owner: Owner): string =>
  `pid ${owner.pid} on ${owner.host} since ${new Date(owner.since).toISOString()}${owner.endpoint ? `, at ${owner.endpoint}` : ''}`;

/** What one write changes of an execution: its row (when new or changed) and the events its history gains. */
export interface ExecutionChange {
  executionArn: string;
  /** @default the row stays as it is */
  row?: ExecutionRow;
  /** @default none */
  events?: readonly SfnEvent[];
}

/** The rows of one KMS table as last committed, by id, in their JSON text. */
type Rows = Map<string, string>;

const aliasId = (a: AliasRecord): string => `${aliasAccount(a)} ${a.region} ${a.aliasName}`;

/**
 * The local stack's state folder, kept in one SQLite database (`state.db`, WAL, mode 0600): the KMS keys, aliases
 * and import tokens, the executions and their histories (a row per event), the SNS and EventBridge outboxes and the
 * request log. One process owns a folder at a time (the lease row, claimed in a transaction); every write is one
 * transaction that commits before the caller answers, and a write that fails (disk full, read-only folder, I/O error)
 * throws {@link LocalStateError} having changed nothing.
 */
export class StateStore {
  private readonly write: Database.Transaction<(run: () => void) => void>;
  private token: string | undefined;
  private heartbeat: NodeJS.Timeout | undefined;
  private kmsRows: { keys: Rows; aliases: Rows; tokens: Rows } = {
    keys: new Map(),
    aliases: new Map(),
    tokens: new Map(),
  };

  private constructor(
    private readonly db: Database.Database,
    readonly file: string,
    /** False when the folder cannot be written: the stack serves reads, and every write is refused. */
    readonly writable: boolean,
  ) {
    this.write = db.transaction((run: () => void) => run());
  }

  /**
   * Opens the state folder's database, making it on the folder's first use. Checks the database is keymat's, undamaged,
   * and of a schema version this keymat knows, migrating an older one. `verify` reads the whole file for damage (the
   * owner does, at start; a reader need not). A `readOnly` store (a reader's) never writes the file: no migration, no
   * change of journal, no checkpoint of the WAL; it refuses an older schema unless `olderSchema` (a reader of the lease
   * alone, whose shape every version shares). Throws {@link LocalStateError} with one line saying what is wrong and
   * what to do; a refused database and its WAL are left byte for byte as they were.
   */
  static open(
    stateDir: string,
    {
      verify = true,
      readOnly = false,
      olderSchema = false,
    }: { verify?: boolean; readOnly?: boolean; olderSchema?: boolean } = {},
  ): StateStore {
    const file = join(stateDir, STATE_DB);
    try {
      mkdirSync(stateDir, { recursive: true, mode: 0o700 });
    } catch (err) {
      throw new LocalStateError(`cannot make the state folder ${stateDir}: ${fault(err)}`, { cause: err });
    }
    if (!existsSync(file)) {
      refuseOrphanedJournals(file);
      create(stateDir, file);
    }
    if (statSync(file).size === 0) throw damaged(file, 'the database is empty (0 bytes)');
    const version = inspect(file, verify);
    const writable = !readOnly && canWrite(stateDir) && canWrite(file);
    if (version < SCHEMA_VERSION && !writable && !olderSchema) {
      throw new LocalStateError(
        `${file} has schema version ${version}, older than this keymat's ${SCHEMA_VERSION}, and ${readOnly ? 'a reader does not migrate it' : 'the state folder is read-only'}: start the local stack on a writable folder once (keymat local serve --state-dir ${shellQuote(stateDir)}) to migrate it`,
      );
    }
    let db: Database.Database;
    try {
      db = new Database(file, { fileMustExist: true, readonly: !writable, timeout: BUSY_TIMEOUT_MS });
    } catch (err) {
      throw new LocalStateError(`${file}: cannot open the database: ${fault(err)}`, { cause: err });
    }
    try {
      if (writable) prepareForWriting(db, file, version);
    } catch (err) {
      db.close();
      throw err;
    }
    return new StateStore(db, file, writable);
  }

  /**
   * Claims the folder for this process, or refuses with {@link StateFolderBusyError} when another live stack holds
   * it. A lease left by a process that is gone (or whose PID now belongs to another process) is taken over; so is one
   * whose heartbeat is ahead of this machine's clock beyond the tolerance, and the notice returned says so. A store
   * that cannot write takes no lease, and refuses to serve beside a live owner.
   */
  claim(): string | undefined {
    const now = Date.now();
    if (!this.writable) {
      // A read-only stack loads the state once: beside a live writer it would serve what is no longer true.
      const owner = this.owner();
      if (owner && ownerAlive(owner, now)) {
        throw new StateFolderBusyError(
          `state folder ${this.folder} is read-only here and served by keymat (${describeOwner(owner)}); use that stack, or stop it first`,
        );
      }
      return undefined;
    }
    const mine: Owner = {
      token: randomBytes(16).toString('hex'),
      pid: process.pid,
      host: hostname(),
      started: processStart(process.pid),
      since: now,
      heartbeat: now,
      endpoint: null,
    };
    let notice: string | undefined;
    this.transact('claim the state folder', () => {
      const owner = this.owner();
      if (owner && heartbeatAhead(owner, now)) {
        notice = `took over the lease of ${describeOwner(owner)}: its heartbeat is ${Math.round((owner.heartbeat - now) / 1000)} s ahead of this machine's clock, more than the ${STALE_AFTER_MS / 1000} s allowed, so it is taken for stale (check both machines' clocks)`;
      }
      if (owner && ownerAlive(owner, now)) {
        throw new StateFolderBusyError(
          `state folder ${this.folder} is already served by keymat (${describeOwner(owner)}); stop it or use another --state-dir`,
        );
      }
      this.db
        .prepare(
          'INSERT OR REPLACE INTO lease (id, token, pid, host, started, since, heartbeat, endpoint) VALUES (1, @token, @pid, @host, @started, @since, @heartbeat, @endpoint)',
        )
        .run(mine);
    });
    this.token = mine.token;
    heldHere.add(mine.token);
    this.heartbeat = setInterval(() => {
      try {
        this.db.prepare('UPDATE lease SET heartbeat = ? WHERE token = ?').run(Date.now(), this.token);
      } catch {
        // A missed heartbeat matters only to another host, after STALE_AFTER_MS of them.
      }
    }, HEARTBEAT_MS).unref();
    return notice;
  }

  /** Records where the owning stack serves, for other keymat commands on the folder. */
  advertise(endpoint: string): void {
    if (!this.token) return;
    this.transact('advertise the endpoint', () => {
      this.db.prepare('UPDATE lease SET endpoint = ? WHERE token = ?').run(endpoint, this.token);
    });
  }

  /** Gives up the lease (if held) and closes the database. Never throws. */
  close(): void {
    clearInterval(this.heartbeat);
    if (this.token) {
      heldHere.delete(this.token);
      try {
        this.db.prepare('DELETE FROM lease WHERE token = ?').run(this.token);
        // Left in rollback mode the file is whole on its own, so a read-only folder can still be opened.
        this.db.pragma('journal_mode = DELETE');
      } catch {
        // A lease left behind is stale once this process is gone; a reader still open keeps the WAL.
      }
    }
    this.token = undefined;
    try {
      this.db.close();
    } catch {
      // Closing a connection whose file went away cannot be helped.
    }
  }

  /**
   * The KMS state, each row checked for shape; secrets (material, wrapping private keys) for form and length. Each
   * row is remembered as the state writes it back (the schema's order of fields), so a start that changes nothing
   * writes nothing, which a read-only folder needs.
   */
  loadKms(): KmsState {
    const state: KmsState = { keys: {}, aliases: [], importTokens: {} };
    for (const { id, record } of this.rows('SELECT arn AS id, record FROM kms_keys ORDER BY rowid')) {
      state.keys[id] = this.parse(keyRecordSchema, record, `key ${id}`);
    }
    for (const { id, record } of this.rows('SELECT id, record FROM kms_aliases ORDER BY rowid')) {
      state.aliases.push(this.parse(aliasRecordSchema, record, `alias ${id}`));
    }
    for (const { id, record } of this.rows('SELECT token AS id, record FROM kms_import_tokens ORDER BY rowid')) {
      state.importTokens[id] = this.parse(importTokenRecordSchema, record, 'an import token');
    }
    this.kmsRows = kmsRowsOf(state);
    return state;
  }

  /**
   * Writes what changed in `state` since the last commit, in one transaction. When the write fails, the error is
   * thrown and the committed rows stay as they were: the caller puts `state` back with {@link revertKms}.
   * Returns whether anything changed.
   */
  commitKms(state: KmsState): boolean {
    const next = kmsRowsOf(state);
    const changes = {
      keys: changed(this.kmsRows.keys, next.keys),
      aliases: changed(this.kmsRows.aliases, next.aliases),
      tokens: changed(this.kmsRows.tokens, next.tokens),
    };
    if (!changes.keys.length && !changes.aliases.length && !changes.tokens.length) return false;
    this.transact('save the KMS state', () => {
      const tables = [
        ['kms_keys', 'arn', changes.keys, next.keys],
        ['kms_aliases', 'id', changes.aliases, next.aliases],
        ['kms_import_tokens', 'token', changes.tokens, next.tokens],
      ] as const;
      for (const [table, column, ids, rows] of tables) {
        const upsert = this.db.prepare(
          `INSERT INTO ${table} (${column}, record) VALUES (?, ?) ON CONFLICT (${column}) DO UPDATE SET record = excluded.record`,
        );
        const remove = this.db.prepare(`DELETE FROM ${table} WHERE ${column} = ?`);
        for (const id of ids) {
          const record = rows.get(id);
          if (record === undefined) remove.run(id);
          else upsert.run(id, record);
        }
      }
    });
    this.kmsRows = next;
    return true;
  }

  /**
   * Puts `state` back as last committed: a change that was not written is undone in memory too. Returns whether
   * anything was undone.
   */
  revertKms(state: KmsState): boolean {
    const next = kmsRowsOf(state);
    let undone = false;
    for (const arn of changed(this.kmsRows.keys, next.keys)) {
      undone = true;
      const record = this.kmsRows.keys.get(arn);
      if (record === undefined) delete state.keys[arn];
      else state.keys[arn] = keyRecordSchema.parse(JSON.parse(record));
    }
    for (const id of changed(this.kmsRows.tokens, next.tokens)) {
      undone = true;
      const record = this.kmsRows.tokens.get(id);
      if (record === undefined) delete state.importTokens[id];
      else state.importTokens[id] = importTokenRecordSchema.parse(JSON.parse(record));
    }
    if (changed(this.kmsRows.aliases, next.aliases).length) {
      undone = true;
      state.aliases = [...this.kmsRows.aliases.values()].map((r) => aliasRecordSchema.parse(JSON.parse(r)));
    }
    return undone;
  }

  /** Every execution with its history, each row checked for shape. */
  loadExecutions(): Record<string, ExecutionRecord> {
    const executions: Record<string, ExecutionRecord> = {};
    for (const { id, record } of this.rows('SELECT arn AS id, record FROM executions ORDER BY rowid')) {
      executions[id] = { ...this.parse(executionRowSchema, record, `execution ${id}`), events: [] };
    }
    for (const { id, record } of this.rows(
      'SELECT arn AS id, event AS record FROM execution_events ORDER BY arn, id',
    )) {
      const execution = executions[id];
      if (!execution) throw damaged(this.file, `the history of execution ${id} has no execution`);
      execution.events.push(this.parse(sfnEventSchema, record, `a history event of execution ${id}`));
    }
    return executions;
  }

  /** Writes changes of executions in one transaction: each one's row when given, and the events appended. */
  saveExecutions(changes: readonly ExecutionChange[]): void {
    if (!changes.length) return;
    this.transact('save an execution', () => {
      const upsert = this.db.prepare(
        'INSERT INTO executions (arn, record) VALUES (?, ?) ON CONFLICT (arn) DO UPDATE SET record = excluded.record',
      );
      const append = this.db.prepare('INSERT INTO execution_events (arn, id, event) VALUES (?, ?, ?)');
      for (const { executionArn, row, events = [] } of changes) {
        if (row) upsert.run(executionArn, JSON.stringify(row));
        for (const e of events) append.run(executionArn, e.id, JSON.stringify(e));
      }
    });
  }

  /** Appends a message to the SNS outbox. */
  appendOutbox(message: OutboxMessage): void {
    this.transact('append to the outbox', () => {
      this.db.prepare('INSERT INTO outbox (message) VALUES (?)').run(JSON.stringify(message));
    });
  }

  /** Appends events to the EventBridge outbox, all or none. */
  appendEvents(events: readonly OutboxEvent[]): void {
    this.transact('append to the events outbox', () => {
      const insert = this.db.prepare('INSERT INTO events (event) VALUES (?)');
      for (const e of events) insert.run(JSON.stringify(e));
    });
  }

  /** Writes an S3 object, replacing one of the same bucket and key. */
  putObject(bucket: string, key: string, body: Buffer): void {
    this.transact(`write the S3 object s3://${bucket}/${key}`, () => {
      this.db
        .prepare('INSERT OR REPLACE INTO s3_objects (bucket, key, body, modified) VALUES (?, ?, ?, ?)')
        .run(bucket, key, body, new Date().toISOString());
    });
  }

  /** An S3 object's body and when it was last written, or undefined when there is none. */
  getObject(bucket: string, key: string): { body: Buffer; modified: string } | undefined {
    const [row] = this.rows<{ body: Buffer; modified: string }>(
      'SELECT body, modified FROM s3_objects WHERE bucket = ? AND key = ?',
      bucket,
      key,
    );
    return row;
  }

  /** The EventBridge outbox, oldest first. */
  readEvents(): OutboxEvent[] {
    return this.rows('SELECT seq AS id, event AS record FROM events ORDER BY seq').map(({ id, record }) =>
      this.parse(outboxEventSchema, record, `event ${id}`),
    );
  }

  /** Appends an entry to the request log. */
  appendRequest(entry: RequestLogEntry): void {
    this.transact('append to the request log', () => {
      this.db.prepare('INSERT INTO requests (entry) VALUES (?)').run(JSON.stringify(entry));
    });
  }

  /** The SNS outbox, oldest first. */
  readOutbox(): OutboxMessage[] {
    return this.rows('SELECT seq AS id, message AS record FROM outbox ORDER BY seq').map(({ id, record }) =>
      this.parse(outboxMessageSchema, record, `outbox message ${id}`),
    );
  }

  /** The outbox message with this MessageId, found by the outbox's index, or undefined. */
  outboxMessage(messageId: string): OutboxMessage | undefined {
    const [row] = this.rows(
      "SELECT seq AS id, message AS record FROM outbox WHERE json_extract(message, '$.messageId') = ?",
      messageId,
    );
    return row && this.parse(outboxMessageSchema, row.record, `outbox message ${row.id}`);
  }

  /** The request log after the entry `after` ({@link requestLogEnd} marks where it ended), oldest first. */
  readRequestLog(after = 0): RequestLogEntry[] {
    return this.rows('SELECT seq AS id, entry AS record FROM requests WHERE seq > ? ORDER BY seq', after).map(
      ({ id, record }) => this.parse(requestLogEntrySchema, record, `request log entry ${id}`),
    );
  }

  /** Where the request log ends now: {@link readRequestLog} after it reads only the entries written since. */
  requestLogEnd(): number {
    return this.rows<{ end: number }>('SELECT COALESCE(MAX(seq), 0) AS end FROM requests')[0]?.end ?? 0;
  }

  /** The endpoint of the live stack that owns the folder, if one does. */
  liveEndpoint(): string | undefined {
    const owner = this.owner();
    return owner?.endpoint && ownerAlive(owner, Date.now()) ? owner.endpoint : undefined;
  }

  private get folder(): string {
    return join(this.file, '..');
  }

  private owner(): Owner | undefined {
    return this.db.prepare('SELECT * FROM lease WHERE id = 1').get() as Owner | undefined;
  }

  /**
   * Runs `run` in one immediate transaction, after checking this process still owns the folder. Any failure rolls
   * the transaction back and is thrown as a {@link LocalStateError} saying what could not be written and why.
   */
  private transact(what: string, run: () => void): void {
    if (!this.writable) {
      throw new LocalStateError(
        `could not ${what}: the state folder ${this.folder} is read-only; nothing was changed (make it writable and restart the local stack)`,
      );
    }
    try {
      this.write.immediate(() => {
        if (this.token) {
          const owner = this.owner();
          if (owner?.token !== this.token) {
            throw new StateFolderBusyError(
              `this local stack no longer owns ${this.folder}${owner ? ` (${describeOwner(owner)} took it over)` : ''}; stop it`,
            );
          }
        }
        run();
      });
    } catch (err) {
      if (err instanceof LocalStateError) throw err;
      throw new LocalStateError(`could not ${what} in ${this.file}: ${fault(err)}; nothing was changed`, {
        cause: err,
      });
    }
  }

  /** The rows a query answers (by default a record's id and JSON text); a read that fails is a damaged database. */
  private rows<Row = { id: string; record: string }>(sql: string, ...params: unknown[]): Row[] {
    try {
      return this.db.prepare(sql).all(...params) as Row[];
    } catch (err) {
      throw damaged(this.file, `cannot read it: ${fault(err)}`, err);
    }
  }

  private parse<T>(schema: z.ZodMiniType<T>, text: string, what: string): T {
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch (err) {
      throw damaged(this.file, `${what} is not valid JSON`, err);
    }
    const parsed = schema.safeParse(value);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      throw damaged(this.file, `${what} is malformed (${issue?.path.join('.') || 'the record'}: ${issue?.message})`);
    }
    return parsed.data;
  }
}

/** The KMS state as rows: each key, alias and import token in its JSON text. */
function kmsRowsOf(state: KmsState): { keys: Rows; aliases: Rows; tokens: Rows } {
  return {
    keys: new Map(Object.entries(state.keys).map(([arn, k]) => [arn, JSON.stringify(k)])),
    aliases: new Map(state.aliases.map((a) => [aliasId(a), JSON.stringify(a)])),
    tokens: new Map(Object.entries(state.importTokens).map(([id, t]) => [id, JSON.stringify(t)])),
  };
}

/** The ids whose row was added, changed or removed. */
function changed(before: Rows, after: Rows): string[] {
  const ids: string[] = [];
  for (const [id, record] of after) if (before.get(id) !== record) ids.push(id);
  for (const id of before.keys()) if (!after.has(id)) ids.push(id);
  return ids;
}

function canWrite(path: string): boolean {
  try {
    accessSync(path, constants.W_OK);
    return true;
  } catch {
    return false;
  }
}

/**
 * Makes the database of a new state folder: built under a temporary name and linked into place once complete, so
 * `state.db` is always a whole database.
 */
function create(stateDir: string, file: string): void {
  removeAbandonedTemps(stateDir);
  const temp = `${file}.${process.pid}.new`;
  try {
    closeSync(openSync(temp, 'w', 0o600));
    const db = new Database(temp, { fileMustExist: true });
    try {
      db.pragma(`application_id = ${APPLICATION_ID}`);
      db.pragma('journal_mode = WAL');
      db.transaction(() => migrate(db, 0)).immediate();
      // Closed in rollback mode: the file is whole on its own once linked into place.
      db.pragma('journal_mode = DELETE');
    } finally {
      db.close();
    }
    // A link fails if the file exists: of two processes making a folder's database at once, the first one wins.
    try {
      linkSync(temp, file);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
    const dir = openSync(stateDir, 'r');
    try {
      fsyncSync(dir);
    } finally {
      closeSync(dir);
    }
  } catch (err) {
    throw new LocalStateError(`cannot create ${file}: ${fault(err)}`, { cause: err });
  } finally {
    for (const f of [temp, `${temp}-wal`, `${temp}-shm`, `${temp}-journal`]) rmSync(f, { force: true });
  }
}

/** Removes databases left half-made by a process killed while making one. */
function removeAbandonedTemps(stateDir: string): void {
  for (const f of readdirSync(stateDir)) {
    const pid = /^state\.db\.(\d+)\.new/.exec(f)?.[1];
    if (pid && Number(pid) !== process.pid && !pidAlive(Number(pid))) rmSync(join(stateDir, f), { force: true });
  }
}

/**
 * A `-wal` or `-journal` file whose database is gone belongs to another database: a new `state.db` made beside it
 * would take its pages in. Refuses, naming the files and how to move them away; they are kept as they are. An empty
 * one holds nothing and a `-shm` only an index SQLite rebuilds from the WAL: they are removed.
 */
function refuseOrphanedJournals(file: string): void {
  const orphans: string[] = [];
  for (const f of ['-wal', '-journal', '-shm'].map((suffix) => `${file}${suffix}`)) {
    if (!existsSync(f)) continue;
    if (f.endsWith('-shm') || statSync(f).size === 0) rmSync(f, { force: true });
    else orphans.push(f);
  }
  if (!orphans.length) return;
  const names = orphans.map((f) => f.slice(file.length - STATE_DB.length)).join(' and ');
  const [them, are] = orphans.length > 1 ? ['them', 'are'] : ['it', 'is'];
  const moves = orphans.map((f) => `mv ${shellQuote(f)} ${shellQuote(`${f}.orphaned`)}`).join(' && ');
  throw new LocalStateError(
    `${file} is missing but ${names} ${are} still there: keymat does not make a new database that would take in a stale journal; put the missing ${STATE_DB} back beside ${them}, or move ${them} away to start with an empty state (${moves})`,
  );
}

/**
 * Checks the database is keymat's, whole, and of a schema version this keymat knows; returns that version. Read
 * through a read-only connection, which never checkpoints: a database found damaged keeps its WAL, and both keep every
 * byte.
 */
function inspect(file: string, verify: boolean): number {
  let db: Database.Database;
  try {
    db = new Database(file, { fileMustExist: true, readonly: true, timeout: BUSY_TIMEOUT_MS });
  } catch (err) {
    throw new LocalStateError(`${file}: cannot open the database: ${fault(err)}`, { cause: err });
  }
  let version: number;
  try {
    if (verify && db.pragma('quick_check', { simple: true }) !== 'ok') throw damaged(file, 'the database is damaged');
    if (db.pragma('application_id', { simple: true }) !== APPLICATION_ID) {
      throw damaged(file, 'this is not a keymat state database');
    }
    version = Number(db.pragma('user_version', { simple: true }));
  } catch (err) {
    if (err instanceof LocalStateError) throw err;
    throw damaged(file, fault(err), err);
  } finally {
    db.close();
  }
  if (version > SCHEMA_VERSION) {
    throw new LocalStateError(
      `${file} has schema version ${version}, newer than this keymat's ${SCHEMA_VERSION}: use a newer keymat, or another --state-dir`,
    );
  }
  return version;
}

/** Migrates an older schema and puts the owner's connection in WAL mode with every commit synced. */
function prepareForWriting(db: Database.Database, file: string, version: number): void {
  if (version < SCHEMA_VERSION) {
    try {
      db.transaction(() => migrate(db, version)).immediate();
    } catch (err) {
      throw new LocalStateError(`${file}: the schema migration from version ${version} failed: ${fault(err)}`, {
        cause: err,
      });
    }
  }
  try {
    db.pragma('journal_mode = WAL');
    // Every commit reaches the disk before the answer that acknowledges it.
    db.pragma('synchronous = FULL');
    chmodSync(file, 0o600);
  } catch (err) {
    throw unwritable(file, 'open the database for writing', err);
  }
}

function migrate(db: Database.Database, from: number): void {
  for (let v = from; v < SCHEMA_VERSION; v++) db.exec(MIGRATIONS[v] as string);
  db.pragma(`user_version = ${SCHEMA_VERSION}`);
}

/**
 * Reads a state folder from another process than its stack (or with no stack running), through a read-only
 * connection that never migrates or checkpoints it. A folder without a database reads as empty; one of an older
 * schema is refused unless `olderSchema` (the read needs only the lease).
 */
function withReader<T>(stateDir: string, empty: T, read: (store: StateStore) => T, olderSchema = false): T {
  if (!existsSync(join(stateDir, STATE_DB))) return empty;
  const store = StateStore.open(stateDir, { verify: false, readOnly: true, olderSchema });
  try {
    return read(store);
  } finally {
    store.close();
  }
}

/** The SNS messages the local stack of `stateDir` sent, oldest first. */
export const readOutbox = (stateDir: string): OutboxMessage[] => withReader(stateDir, [], (s) => s.readOutbox());

/** The events the local stack of `stateDir` was given (EventBridge PutEvents), oldest first. */
export const readEventsOutbox = (stateDir: string): OutboxEvent[] => withReader(stateDir, [], (s) => s.readEvents());

/** The request log of the local stack of `stateDir` after the entry `after`, oldest first. @default the whole log */
export const readRequestLog = (stateDir: string, after = 0): RequestLogEntry[] =>
  withReader(stateDir, [], (s) => s.readRequestLog(after));

/** Where the request log of the local stack of `stateDir` ends now (see {@link readRequestLog}). */
export const requestLogEnd = (stateDir: string): number => withReader(stateDir, 0, (s) => s.requestLogEnd());

/** The SNS message with this MessageId that the local stack of `stateDir` sent, or undefined. */
export const readOutboxMessage = (stateDir: string, messageId: string): OutboxMessage | undefined =>
  withReader<OutboxMessage | undefined>(stateDir, undefined, (s) => s.outboxMessage(messageId));

/**
 * Refuses, in one line naming the folder, a state folder that a command reading a local stack's state cannot read:
 * one that does not exist or is not a folder, or (unless `database` is false: the command starts a stack that makes
 * it) one without the database a local stack keeps there. A mistyped `--state-dir` would otherwise read as empty.
 *
 * @throws LocalStateError
 */
export function checkStateFolder(stateDir: string, { database = true } = {}): void {
  const serve = `keymat local serve --state-dir ${shellQuote(stateDir)}`;
  let folder: boolean;
  try {
    folder = statSync(stateDir).isDirectory();
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    throw new LocalStateError(
      `state folder ${stateDir} does not exist: check --state-dir, or start a stack with: ${serve}`,
    );
  }
  if (!folder) {
    throw new LocalStateError(
      `${stateDir} is a file, not a state folder: --state-dir names the folder of a local stack`,
    );
  }
  if (database && !existsSync(join(stateDir, STATE_DB))) {
    throw new LocalStateError(
      `${stateDir} holds no local stack's state (no ${STATE_DB}): check --state-dir, or start a stack with: ${serve}`,
    );
  }
}

/** The endpoint of the live local stack serving `stateDir`, if there is one. */
export const runningEndpoint = (stateDir: string): string | undefined =>
  withReader<string | undefined>(stateDir, undefined, (s) => s.liveEndpoint(), true);

/**
 * Writes a KMS state into a folder no stack is serving (the bench's seeded keys): claims the folder, commits the
 * state's rows, and gives the folder up.
 */
export function seedKmsState(stateDir: string, state: KmsState): void {
  const store = StateStore.open(stateDir);
  try {
    store.claim();
    store.commitKms(state);
  } finally {
    store.close();
  }
}
