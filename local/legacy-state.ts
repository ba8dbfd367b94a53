import { existsSync, mkdirSync, readFileSync, readdirSync, renameSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import * as z from '../core/schema';
import type { KmsState } from './kms/model';
import {
  aliasRecordSchema,
  executionRecordSchema,
  importTokenRecordSchema,
  keyRecordSchema,
  outboxMessageSchema,
  requestLogEntrySchema,
  type ExecutionRecord,
  type OutboxMessage,
  type RequestLogEntry,
} from './state/records';

/**
 * The state folder as keymat kept it before the state database: JSON documents (`kms.json`, `executions.json`)
 * and JSON-lines files (`outbox.jsonl`, `requests.jsonl`). Read once, when a folder holding them gets its database.
 */
export interface LegacyState {
  kms: KmsState;
  executions: ExecutionRecord[];
  outbox: OutboxMessage[];
  requests: RequestLogEntry[];
}

const LEGACY_FILES = ['kms.json', 'executions.json', 'outbox.jsonl', 'requests.jsonl'] as const;

/** Where the JSON files go once migrated: kept for a while, out of the way. */
export const MIGRATED_DIR = 'migrated-json';

/** Temporary copies the atomic-write library left when a write was killed (`kms.json.123456789`). */
const ATOMIC_WRITE_TEMP = /^(kms|executions)\.json\.\d+$/;

const kmsFileSchema = z.lazy(() =>
  z.object({
    keys: z.record(z.string(), keyRecordSchema),
    aliases: z.array(aliasRecordSchema),
    importTokens: z.record(z.string(), importTokenRecordSchema),
  }),
);

const executionsFileSchema = z.lazy(() => z.object({ executions: z.record(z.string(), executionRecordSchema) }));

const refuse = (file: string, what: string): Error =>
  new LegacyStateError(
    `${file} ${what}: keymat now keeps the local state in state.db and migrates an earlier JSON state folder once; repair the file, or move ${LEGACY_FILES.join(', ')} out of the folder to start with an empty state`,
  );

/** A JSON state folder that cannot be migrated; the message says how to move it. */
export class LegacyStateError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'LocalStateError';
  }
}

function document<T>(file: string, schema: z.ZodMiniType<T>): T | undefined {
  if (!existsSync(file)) return undefined;
  let value: unknown;
  try {
    value = JSON.parse(readFileSync(file, 'utf8'));
  } catch (err) {
    throw refuse(file, `is not valid JSON (${(err as Error).message})`);
  }
  const parsed = schema.safeParse(value);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw refuse(file, `does not hold a keymat state (${issue?.path.join('.') || 'the document'}: ${issue?.message})`);
  }
  return parsed.data;
}

/**
 * The records of a JSON-lines file. A line that is not a record (torn by a crash, or two records run together by an
 * append after a torn line) is dropped; the records on other lines are kept.
 */
function lines<T>(file: string, schema: z.ZodMiniType<T>): T[] {
  if (!existsSync(file)) return [];
  const records: T[] = [];
  for (const line of readFileSync(file, 'utf8').split('\n')) {
    if (!line) continue;
    let value: unknown;
    try {
      value = JSON.parse(line);
    } catch {
      continue;
    }
    const parsed = schema.safeParse(value);
    if (parsed.success) records.push(parsed.data);
  }
  return records;
}

/** The folder's JSON state, checked, or undefined when it holds none. */
export function readLegacyState(stateDir: string): LegacyState | undefined {
  if (!LEGACY_FILES.some((f) => existsSync(join(stateDir, f)))) return undefined;
  const kms = document(join(stateDir, 'kms.json'), kmsFileSchema) ?? { keys: {}, aliases: [], importTokens: {} };
  const executions = document(join(stateDir, 'executions.json'), executionsFileSchema)?.executions ?? {};
  return {
    kms,
    executions: Object.values(executions),
    outbox: lines(join(stateDir, 'outbox.jsonl'), outboxMessageSchema),
    requests: lines(join(stateDir, 'requests.jsonl'), requestLogEntrySchema),
  };
}

/**
 * Once the database holds them, moves the JSON files into {@link MIGRATED_DIR} (mode 0700: they hold key material)
 * and removes what only a JSON state needed: `server.json` and the atomic-write library's temporary copies.
 */
export function retireLegacyFiles(stateDir: string): void {
  const moved = join(stateDir, MIGRATED_DIR);
  mkdirSync(moved, { recursive: true, mode: 0o700 });
  for (const f of LEGACY_FILES) {
    if (existsSync(join(stateDir, f))) renameSync(join(stateDir, f), join(moved, f));
  }
  for (const f of readdirSync(stateDir)) {
    if (f === 'server.json' || ATOMIC_WRITE_TEMP.test(f)) rmSync(join(stateDir, f), { force: true });
  }
}
