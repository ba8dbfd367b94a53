import type { SourceMap } from 'node:module';

/**
 * Source-mapped stack traces without `--enable-source-maps`, which makes Node parse every bundle's source map at
 * start: a function's bundle keeps its map beside it (`index.mjs.map`), read the first time an error's stack is
 * logged or thrown. Frames are rewritten as Node's own source-map support writes them (`at name (file.ts:line:col)`).
 * Files without a map beside them (the local stack runs the sources) are left as they are.
 */

/**
 * The built-ins this needs, taken from the runtime when the first error is mapped: importing them (as ES modules, each
 * a namespace of all its exports) cost every cold start about 2 ms of CPU, for a path most invocations never take.
 */
const fs = () => process.getBuiltinModule('node:fs');
const nodeModule = () => process.getBuiltinModule('node:module');
const path = () => process.getBuiltinModule('node:path');
const url = () => process.getBuiltinModule('node:url');

/** Per file: its source map, or null when it has none. Read once. */
const maps = new Map<string, SourceMap | null>();

function mapOf(file: string): SourceMap | null {
  let map = maps.get(file);
  if (map === undefined) {
    try {
      map = new (nodeModule().SourceMap)(
        JSON.parse(fs().readFileSync(`${file}.map`, 'utf8')) as ConstructorParameters<typeof SourceMap>[0],
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
  const file = location.startsWith('file://') ? url().fileURLToPath(location) : location;
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
    ? url().fileURLToPath(entry.originalSource)
    : path().resolve(path().dirname(file), entry.originalSource);
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
