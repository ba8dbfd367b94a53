import { appendJsonLine, readJsonLines } from './jsonl';

/** One line of the local stack's request log. Never holds material, plaintext, ciphertext or tokens. */
export interface RequestLogEntry {
  time: string;
  service: string;
  region: string;
  operation: string;
  /** The key the call was about: its ARN when the emulator resolved it, else the KeyId as sent. */
  keyId?: string;
  /** The KeyMaterialId a DeleteImportedKeyMaterial or ImportKeyMaterial call named (as CloudTrail records it). */
  keyMaterialId?: string;
  status: number;
  error?: string;
  requestId: string;
}

/** The request log (`requests.jsonl` in the state folder) that tests and the CLI read back. */
export class RequestLog {
  constructor(readonly path: string) {}

  append(entry: RequestLogEntry): void {
    appendJsonLine(this.path, entry);
  }

  read(): RequestLogEntry[] {
    return readRequestLog(this.path);
  }
}

export const readRequestLog = (path: string): RequestLogEntry[] => readJsonLines<RequestLogEntry>(path);
