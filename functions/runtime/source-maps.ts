import { readFileSync } from 'node:fs';
import { SourceMap } from 'node:module';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * Source-mapped stack traces without `--enable-source-maps`, which makes Node parse every bundle's source map at
 * start: a function's bundle keeps its map beside it (`index.mjs.map`), read the first time an error's stack is
 * logged or thrown. Frames are rewritten as Node's own source-map support writes them (`at name (file.ts:line:col)`).
 * Files without a map beside them (the local stack runs the sources) are left as they are.
 */

/** Per file: its source map, or null when it has none. Read once. */
const maps = new Map<string, SourceMap | null>();

function mapOf(file: string): SourceMap | null {
  let map = maps.get(file);
  if (map === undefined) {
    try {
      map = new SourceMap(
        JSON.parse(readFileSync(`${file}.map`, 'utf8')) as ConstructorParameters<typeof SourceMap>[0],
      );
    } catch {
      map = null;
    }
    maps.set(file, map);
  }
  return map;
}

/** `    at name (location:line:col)` or `    at location:line:col`. */
const FRAME = /^(\s+at (?:(.+?) \()?)(.+?):(\d+):(\d+)(\)?)$/;

function mapFrame(line: string): string {
  const m = FRAME.exec(line);
  if (!m) return line;
  const [, , name, location = '', lineNo = '', column = '', close = ''] = m;
  if (!/\.m?js$/.test(location)) return line;
  const file = location.startsWith('file://') ? fileURLToPath(location) : location;
  const map = mapOf(file);
  if (!map) return line;
  const entry = map.findEntry(Number(lineNo) - 1, Number(column) - 1) as {
    originalSource?: string;
    originalLine?: number;
    originalColumn?: number;
    name?: string;
  };
  if (entry.originalSource === undefined || entry.originalLine === undefined || entry.originalColumn === undefined) {
    return line;
  }
  const source = entry.originalSource.startsWith('file://')
    ? fileURLToPath(entry.originalSource)
    : resolve(dirname(file), entry.originalSource);
  const where = `${source}:${entry.originalLine + 1}:${entry.originalColumn + 1}`;
  const fn = entry.name ?? name;
  return fn === undefined ? `    at ${where}` : `    at ${fn} (${where}${close || ')'}`;
}

/** A stack trace with its bundle frames pointing at the TypeScript sources. */
export function sourceMappedStack(stack: string): string {
  return stack.split('\n').map(mapFrame).join('\n');
}

/**
 * Rewrites an error's stack (and its causes') in place, once: the logger and the Lambda runtime then report the
 * source locations.
 */
export function mapErrorStack(err: unknown, seen = new Set<unknown>()): void {
  if (!(err instanceof Error) || seen.has(err)) return;
  seen.add(err);
  if (typeof err.stack === 'string') err.stack = sourceMappedStack(err.stack);
  mapErrorStack(err.cause, seen);
}
