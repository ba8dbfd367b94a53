import { appendFileSync, mkdirSync, readFileSync } from 'node:fs';
import { dirname } from 'node:path';

/** One line of the local stack's request log. Never holds material, plaintext, ciphertext or tokens. */
export interface RequestLogEntry {
  time: string;
  service: string;
  region: string;
  operation: string;
  /** The key the call was about: its ARN when the emulator resolved it, else the KeyId as sent. */
  keyId?: string;
  status: number;
  error?: string;
  requestId: string;
}

/** An append-only JSON-lines log in the state folder that tests and the CLI read back. */
export class RequestLog {
  constructor(readonly path: string) {
    mkdirSync(dirname(path), { recursive: true });
  }

  append(entry: RequestLogEntry): void {
    appendFileSync(this.path, `${JSON.stringify(entry)}\n`);
  }

  /** Every complete entry; a line torn by a crash mid-write is skipped. */
  read(): RequestLogEntry[] {
    return readRequestLog(this.path);
  }
}

export function readRequestLog(path: string): RequestLogEntry[] {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw err;
  }
  const entries: RequestLogEntry[] = [];
  for (const line of text.split('\n')) {
    if (!line) continue;
    try {
      entries.push(JSON.parse(line) as RequestLogEntry);
    } catch {
      // a torn last line after a kill -9: the entries before it are intact
    }
  }
  return entries;
}
