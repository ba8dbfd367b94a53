import { mkdirSync, readFileSync } from 'node:fs';
import { dirname } from 'node:path';
import writeFileAtomic from 'write-file-atomic';

/** The default state folder of the local stack, relative to the working directory. */
export const DEFAULT_STATE_DIR = '.keymat';

/**
 * One JSON document in the state folder, written atomically (temporary file, fsync, rename), so a process killed at
 * any moment leaves either the previous or the new document, never a torn one.
 */
export class StateFile<T> {
  constructor(
    readonly path: string,
    private readonly empty: () => T,
  ) {}

  load(): T {
    let text: string;
    try {
      text = readFileSync(this.path, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return this.empty();
      throw err;
    }
    try {
      return JSON.parse(text) as T;
    } catch (err) {
      throw new Error(`state file ${this.path} is not valid JSON: ${(err as Error).message}`, { cause: err });
    }
  }

  save(value: T): void {
    mkdirSync(dirname(this.path), { recursive: true });
    writeFileAtomic.sync(this.path, JSON.stringify(value), { mode: 0o600 });
  }
}
