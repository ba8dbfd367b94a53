/**
 * `npm run build` (run by `prepare` and `prepack`): everything the package ships, under dist/.
 *
 * - dist/functions/<folder>/index.mjs: each Lambda function bundled once with esbuild as an ES module (the chunks it
 *   imports beside it), the exact code that deploys (the constructs take these folders with `Code.fromAsset`; synthesis bundles nothing);
 * - local/workflow/workflow.asl.json and local/workflow/workflow-change-window.asl.json (and copies in dist/): the state machine
 *   definition synthesized from the construct with the default configuration, and with change calendars, which the
 *   local engine runs;
 * - dist/cli/keymat.mjs: the CLI, its dependencies bundled, each command's code in chunks (dist/cli/chunks/) loaded
 *   when used; it never loads aws-cdk-lib;
 * - dist/cdk/: the construct library (`keymat/cdk`), aws-cdk-lib and constructs left to the CDK app, with typings.
 *
 * `tsx scripts/build.ts cli` builds the CLI alone (the tests run the built CLI; it takes about a second).
 */
import { build, type BuildOptions, type Metafile } from 'esbuild';
import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdirSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { TSC } from './tsc';

const ROOT = join(__dirname, '..');
const DIST = join(ROOT, 'dist');

/** Every function the stack deploys, by the folder holding its handler.ts. */
export const FUNCTION_FOLDERS = [
  'validate-origin',
  'check-state',
  'prove-recovery',
  'request-approval',
  'check-change-window',
  'delete-material',
  'verify-pending-import',
  'notify-outcome',
  'approval-page',
  'expiry-scan',
  'org-doctor',
  'gateway',
] as const;

/** The Node versions the CLI supports: the floor is what `engines` claims and the tests run on. */
const CLI_TARGET = 'node20';

/** The Lambda runtime's Node (Runtime.NODEJS_24_X in infra/keymat-function.ts). */
const LAMBDA_TARGET = 'node24';

const common: BuildOptions = { bundle: true, platform: 'node', format: 'cjs', logLevel: 'warning' };

/** One function's bundle as built. */
export interface FunctionBundle {
  folder: (typeof FUNCTION_FOLDERS)[number];
  /** The bytes of JavaScript a cold start loads: the handler's module and the chunks it imports statically. */
  startupBytes: number;
  /** The @aws-sdk and @smithy packages it holds: the SDK clients it makes and what they are built from. */
  sdkPackages: string[];
}

/**
 * The functions, bundled as they deploy: ES modules (the ES builds of the SDK and Powertools tree-shake to what a
 * function uses), minified, each in its own folder with the SDK v3 clients it makes (the Lambda runtime's own SDK
 * may predate the KMS operations keymat calls, so each function carries the version keymat is tested with). What the
 * SDK imports dynamically (the credential providers a function in Lambda does not use) is split into chunks beside the
 * handler, loaded only if called. Each module's source map is written beside it, without the sources' text: the
 * functions run with `--enable-source-maps`, so their stacks name keymat's sources.
 *
 * @param root - The folder to put them in, one subfolder per function. @default dist/functions
 * @throws Error when a bundle would take CommonJS code (whose `require` an ES module does not have)
 */
export async function buildFunctions(root: string = join(DIST, 'functions')): Promise<FunctionBundle[]> {
  return Promise.all(
    FUNCTION_FOLDERS.map(async (folder) => {
      const outdir = join(root, folder);
      rmSync(outdir, { recursive: true, force: true });
      const { metafile } = await build(functionBuild(join(ROOT, 'functions', folder, 'handler.ts'), outdir));
      return { folder, ...measure(folder, metafile) };
    }),
  );
}

/**
 * How a function's bundle is built: an ES module `index.mjs` in `outdir`, with its chunks and source maps. The bench
 * builds its reference bundles with the same options.
 */
export const functionBuild = (entry: string, outdir: string): BuildOptions & { metafile: true } => ({
  ...common,
  entryPoints: { index: entry },
  outdir,
  format: 'esm',
  splitting: true,
  outExtension: { '.js': '.mjs' },
  absWorkingDir: ROOT,
  nodePaths: [join(ROOT, 'node_modules')],
  target: LAMBDA_TARGET,
  minify: true,
  sourcemap: true,
  sourcesContent: false,
  mainFields: ['module', 'main'],
  metafile: true,
});

/**
 * What a cold start loads, from esbuild's metafile: the bytes of the entry module and every module it imports
 * statically, and the SDK packages any of the bundle's files holds code of; throws if a bundle cannot load in Lambda
 * (see buildFunctions).
 */
function measure(folder: string, metafile: Metafile): Omit<FunctionBundle, 'folder'> {
  const cjs = Object.entries(metafile.inputs)
    .filter(([, input]) => input.format === 'cjs' || input.imports.some(({ kind }) => kind === 'require-call'))
    .map(([file]) => file);
  if (cjs.length > 0) throw new Error(`${folder}: CommonJS in an ES module bundle: ${cjs.join(', ')}`);
  const outputs = metafile.outputs;
  const handler = `functions/${folder}/handler.ts`;
  const entry = Object.keys(outputs).find((file) => outputs[file]?.entryPoint === handler);
  if (entry === undefined) throw new Error(`${folder}: the bundle has no output for ${handler}`);
  const held = Object.values(outputs).flatMap((output) =>
    Object.entries(output.inputs)
      .filter(([, { bytesInOutput }]) => bytesInOutput > 0)
      .map(([input]) => input),
  );
  const copies = duplicatePackages(held);
  if (copies.length > 0) {
    throw new Error(
      `${folder}: two copies of ${copies.join(', ')} in one bundle: align the versions in package.json (npm ls names them)`,
    );
  }
  return {
    startupBytes: loadedWith(outputs, entry).reduce((sum, file) => sum + (outputs[file]?.bytes ?? 0), 0),
    sdkPackages: sdkPackages(held),
  };
}

/** The output files that loading `file` loads: it, and every module it imports statically, transitively. */
function loadedWith(outputs: Metafile['outputs'], file: string): string[] {
  const loaded = new Set<string>();
  const visit = (path: string): void => {
    if (loaded.has(path)) return;
    loaded.add(path);
    for (const { path: imported, kind, external } of outputs[path]?.imports ?? []) {
      if (kind === 'import-statement' && !external) visit(imported);
    }
  };
  visit(file);
  return [...loaded];
}

/** The @aws-sdk and @smithy packages of these modules (a bundle's inputs, or some of its outputs'), by name. */
function sdkPackages(inputs: string[]): string[] {
  const names = inputs.flatMap((input) => {
    const name = /node_modules\/(@(?:aws-sdk|smithy)\/[^/]+)\//.exec(input)?.[1];
    return name === undefined ? [] : [name];
  });
  return [...new Set(names)].sort();
}

/**
 * The @aws-sdk and @smithy packages these modules take from more than one installed copy: one client pinned at a
 * version whose dependencies differ from another's brings a second copy of the SDK's core into every bundle.
 */
function duplicatePackages(inputs: string[]): string[] {
  const copies = new Map<string, Set<string>>();
  for (const input of inputs) {
    const match = /^(.*node_modules\/(@(?:aws-sdk|smithy)\/[^/]+))\//.exec(input);
    if (!match) continue;
    const [, path, name] = match as unknown as [string, string, string];
    copies.set(name, (copies.get(name) ?? new Set()).add(path));
  }
  return [...copies].filter(([, paths]) => paths.size > 1).map(([name]) => name);
}

/** The CLI's entry module, the package's `bin`. */
const CLI_ENTRY = join(DIST, 'cli', 'keymat.mjs');

/**
 * The CLI as an ES module bundle, its dependencies included (each start would otherwise resolve and compile whole
 * CommonJS files from node_modules, most of its CPU): the entry holds the command table and commander, and each
 * command's code, with the engine it needs, is split into chunks (dist/cli/chunks/) loaded only when that command
 * runs. The ES builds of the SDK and Powertools tree-shake to the commands keymat sends. Left out: better-sqlite3, whose native binding is found at run
 * time beside its own package. The bundled CommonJS (aws-local-stepfunctions, commander) calls `require`, which an ES
 * module lacks: the banner makes one. Minified, as the functions are: Node compiles every byte a command loads at
 * each start, and minified code compiles in about a quarter less time. Each module's source map is written beside it
 * (without the sources' text): the logger maps a logged error's stack with it, and so does Node under
 * `--enable-source-maps`, which is not the default because Node would then parse every map at each start. keymat
 * prints its errors as one line, never a stack.
 */
export async function buildCli(): Promise<void> {
  const outdir = dirname(CLI_ENTRY);
  const { metafile } = await build({
    ...common,
    entryPoints: { [basename(CLI_ENTRY, '.mjs')]: join(ROOT, 'cli', 'main.ts') },
    outdir,
    format: 'esm',
    splitting: true,
    outExtension: { '.js': '.mjs' },
    chunkNames: 'chunks/[name]-[hash]',
    target: CLI_TARGET,
    minify: true,
    mainFields: ['module', 'main'],
    external: ['better-sqlite3'],
    banner: {
      js: "import { createRequire as __keymatRequire } from 'node:module';\nconst require = __keymatRequire(import.meta.url);",
    },
    sourcemap: 'linked',
    sourcesContent: false,
    absWorkingDir: ROOT,
    metafile: true,
  });
  // Stale chunks go after the build, not before: a CLI other processes are running keeps its entry meanwhile.
  const built = new Set(Object.keys(metafile.outputs).map((file) => join(ROOT, file)));
  for (const file of readdirSync(outdir, { recursive: true, encoding: 'utf8' })) {
    const path = join(outdir, file);
    if (!built.has(path) && statSync(path).isFile()) rmSync(path);
  }
}

/**
 * The construct library as one CommonJS file. aws-cdk-lib and constructs stay the CDK app's (peer dependencies: one
 * copy of each in an app); the rest of what it runs (zod) is bundled. Its typings (dist/types) still name zod's
 * types, which is why zod stays in the package's dependencies.
 */
export async function buildCdk(): Promise<void> {
  const outdir = join(DIST, 'cdk');
  rmSync(outdir, { recursive: true, force: true });
  // The typings too: a module no longer reached would otherwise stay in the package, naming what it imported.
  rmSync(join(DIST, 'types'), { recursive: true, force: true });
  await build({
    ...common,
    entryPoints: { index: join(ROOT, 'infra', 'index.ts') },
    outdir,
    target: CLI_TARGET,
    mainFields: ['module', 'main'],
    external: ['aws-cdk-lib', 'constructs'],
  });
  execFileSync(process.execPath, [TSC, '-p', join(ROOT, 'tsconfig.cdk.json')], {
    stdio: 'inherit',
  });
}

/**
 * Synthesizes the workflow with the default configuration, and with change calendars (the freeze-window states), and
 * writes both definitions for the local engine.
 */
export async function generateDefinition(): Promise<void> {
  // Loaded here: building the CLI alone needs no CDK.
  const { synthesizeDefinition } = await import('../infra/definition.js');
  const { DEFAULT_REGION, DEFINITION_CALENDAR, DEFINITION_FILES, LOCAL_ACCOUNT_ID } =
    await import('../local/constants.js');
  const env = { account: LOCAL_ACCOUNT_ID, region: DEFAULT_REGION };
  const variants = {
    [DEFINITION_FILES.default]: {},
    [DEFINITION_FILES.changeWindow]: { changeCalendars: [DEFINITION_CALENDAR] },
  };
  // Formatted as the repository's prettier would: `npm run check` checks the files like any other.
  const prettier = await import('prettier');
  mkdirSync(DIST, { recursive: true });
  for (const [name, props] of Object.entries(variants)) {
    const file = join(ROOT, 'local', 'workflow', name);
    const text = await prettier.format(JSON.stringify(synthesizeDefinition(props, env)), {
      ...(await prettier.resolveConfig(file)),
      filepath: file,
    });
    if (readIfExists(file) !== text) writeFileSync(file, text);
    copyFileSync(file, join(DIST, name));
  }
}

/** Writes each change event's detail schema as JSON Schema into schemas/events/ (and dist/schemas/events/). */
export async function generateEventSchemas(): Promise<void> {
  const { EVENT_DETAIL_TYPES, eventJsonSchema, eventSchemaFile } = await import('../core/change-events.js');
  const prettier = await import('prettier');
  const dirs = [join(ROOT, 'schemas', 'events'), join(DIST, 'schemas', 'events')];
  for (const dir of dirs) mkdirSync(dir, { recursive: true });
  for (const type of EVENT_DETAIL_TYPES) {
    const file = join(dirs[0] as string, eventSchemaFile(type));
    const text = await prettier.format(JSON.stringify(eventJsonSchema(type)), {
      ...(await prettier.resolveConfig(file)),
      filepath: file,
    });
    if (readIfExists(file) !== text) writeFileSync(file, text);
    copyFileSync(file, join(dirs[1] as string, eventSchemaFile(type)));
  }
}

function readIfExists(file: string): string | undefined {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return undefined;
  }
}

async function main(): Promise<void> {
  const only = process.argv[2];
  if (only === 'cli') return buildCli();
  if (only !== undefined) throw new Error(`scripts/build.ts takes no argument or 'cli'; got '${only}'`);
  const started = Date.now();
  // The functions first: the stack synthesized for the definition takes their bundles.
  await buildFunctions();
  await generateDefinition();
  await Promise.all([buildCli(), buildCdk(), generateEventSchemas()]);
  process.stdout.write(`built dist/ in ${((Date.now() - started) / 1000).toFixed(1)} s\n`);
}

if (require.main === module) {
  main().catch((err: unknown) => {
    process.stderr.write(`build failed: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exitCode = 1;
  });
}
