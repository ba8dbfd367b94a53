/**
 * `npm run build` (run by `prepare` and `prepack`): everything the package ships, under dist/.
 *
 * - dist/functions/<folder>/index.mjs: each Lambda function bundled once with esbuild as an ES module (the chunks it
 *   imports beside it), the exact code that deploys (the constructs take these folders with `Code.fromAsset`; synthesis bundles nothing);
 * - local/workflow.asl.json and local/workflow-change-window.asl.json (and copies in dist/): the state machine
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
  'request-approval',
  'check-change-window',
  'delete-material',
  'verify-pending-import',
  'notify-outcome',
  'approval-page',
  'expiry-scan',
  'gateway',
] as const;

/** The Node versions the CLI supports: the floor is what `engines` claims and the tests run on. */
const CLI_TARGET = 'node20';

/** The Lambda runtime's Node (Runtime.NODEJS_24_X in infra/keymat-function.ts). */
const LAMBDA_TARGET = 'node24';

/**
 * The only AWS SDK packages a function bundle may hold: the SigV4 signer keymat's own AWS client signs with, and what
 * the signer imports (parts of @smithy/core, and @smithy/types' few constants). No @aws-sdk package, no client: the
 * first SDK client cost a cold start about 21 ms.
 */
const ALLOWED_SDK_PACKAGES = ['@smithy/core', '@smithy/signature-v4', '@smithy/types'];

const common: BuildOptions = { bundle: true, platform: 'node', format: 'cjs', logLevel: 'warning' };

/** One function's bundle as built. */
export interface FunctionBundle {
  folder: (typeof FUNCTION_FOLDERS)[number];
  /** The bytes of JavaScript a cold start loads: the handler's module and the chunks it imports statically. */
  startupBytes: number;
  /** The @aws-sdk and @smithy packages it holds (only the signer's, or none). */
  sdkPackages: string[];
}

/**
 * The functions, bundled as they deploy: ES modules (Powertools' and the signer's ES builds tree-shake), minified,
 * each in its own folder, calling AWS through keymat's own client (functions/runtime/aws-client.ts). What the code
 * imports dynamically (the AWS client's signer and node's https, loaded at its first call; the change-calendar and
 * change-ticket clients; the signer's event streams) is split into chunks beside the handler, loaded only if called: in one file, esbuild would wrap every module those reach in a
 * lazy initializer, which V8 parses twice. Each module's source map is written beside it but not
 * enabled at start (parsing it would add to every cold start): functions/runtime/source-maps.ts reads it when an error
 * is first logged or thrown.
 *
 * @param root - The folder to put them in, one subfolder per function. @default dist/functions
 * @throws Error when a bundle would take an AWS SDK package other than the signer, or CommonJS code (whose `require`
 *   an ES module does not have)
 */
export async function buildFunctions(root: string = join(DIST, 'functions')): Promise<FunctionBundle[]> {
  return Promise.all(
    FUNCTION_FOLDERS.map(async (folder) => {
      const outdir = join(root, folder);
      rmSync(outdir, { recursive: true, force: true });
      const { metafile } = await build({
        ...common,
        entryPoints: { index: join(ROOT, 'functions', folder, 'handler.ts') },
        outdir,
        format: 'esm',
        splitting: true,
        outExtension: { '.js': '.mjs' },
        target: LAMBDA_TARGET,
        minify: true,
        sourcemap: true,
        sourcesContent: false,
        mainFields: ['module', 'main'],
        metafile: true,
      });
      return {
        folder,
        startupBytes: startupBytes(folder, metafile),
        sdkPackages: sdkPackages(Object.keys(metafile.inputs)),
      };
    }),
  );
}

/**
 * The bytes of the entry module and every module it imports statically, from esbuild's metafile; throws if a bundle
 * cannot load in Lambda (see buildFunctions).
 */
function startupBytes(folder: string, metafile: Metafile): number {
  const cjs = Object.entries(metafile.inputs)
    .filter(([, input]) => input.format === 'cjs' || input.imports.some(({ kind }) => kind === 'require-call'))
    .map(([file]) => file);
  if (cjs.length > 0) throw new Error(`${folder}: CommonJS in an ES module bundle: ${cjs.join(', ')}`);
  const sdk = sdkPackages(Object.keys(metafile.inputs)).filter((p) => !ALLOWED_SDK_PACKAGES.includes(p));
  if (sdk.length > 0) {
    throw new Error(`${folder}: AWS SDK packages in a function bundle: ${sdk.join(', ')}; call AWS through the port`);
  }
  const outputs = metafile.outputs;
  const entry = Object.keys(outputs).find((file) => outputs[file]?.entryPoint !== undefined);
  const loaded = entry === undefined ? [] : loadedWith(outputs, entry);
  return loaded.reduce((sum, file) => sum + (outputs[file]?.bytes ?? 0), 0);
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

/** The CLI's entry module, the package's `bin`. */
const CLI_ENTRY = join(DIST, 'cli', 'keymat.mjs');

/**
 * The CLI as an ES module bundle, its dependencies included (each start would otherwise resolve and compile whole
 * CommonJS files from node_modules, most of its CPU): the entry holds the command table and commander, and each
 * command's code, with the engine it needs, is split into chunks (dist/cli/chunks/) loaded only when that command
 * runs. The SDK's clients and credential chain are chunks of their own: the operator commands load them only for a
 * deployed stack, and call the local stack with keymat's own client (checked here). The ES builds of the SDK and
 * Powertools tree-shake to the commands keymat sends. Left out: better-sqlite3, whose native binding is found at run
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
  checkOperatorCommands(metafile);
  // Stale chunks go after the build, not before: a CLI other processes are running keeps its entry meanwhile.
  const built = new Set(Object.keys(metafile.outputs).map((file) => join(ROOT, file)));
  for (const file of readdirSync(outdir, { recursive: true, encoding: 'utf8' })) {
    const path = join(outdir, file);
    if (!built.has(path) && statSync(path).isFile()) rmSync(path);
  }
}

/**
 * The operator commands' modules (their chunks' entry points in the metafile). On the local stack they call keymat's
 * own client, so loading one must load none of the SDK's clients or its credential chain: cli/operations.ts imports
 * those for a deployed stack only.
 */
const OPERATOR_COMMANDS = ['cli/commands/operator.ts', 'cli/commands/scan.ts'];

/** The SDK packages an operator command may not load at start. */
const SDK_CLIENT_PACKAGE = /^@aws-sdk\/(client-|credential-provider-node$)/;

/** Throws if loading an operator command's chunk would load an SDK client (see OPERATOR_COMMANDS). */
function checkOperatorCommands({ outputs }: Metafile): void {
  for (const command of OPERATOR_COMMANDS) {
    const chunk = Object.keys(outputs).find((file) => outputs[file]?.entryPoint === command);
    if (chunk === undefined) throw new Error(`the CLI bundle has no chunk for ${command}`);
    const inputs = loadedWith(outputs, chunk).flatMap((file) => Object.keys(outputs[file]?.inputs ?? {}));
    const sdk = sdkPackages(inputs).filter((name) => SDK_CLIENT_PACKAGE.test(name));
    if (sdk.length > 0) {
      throw new Error(`${command} loads ${sdk.join(', ')} at start: import the SDK for a deployed stack only`);
    }
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
  const { DEFAULT_REGION, LOCAL_ACCOUNT_ID } = await import('../local/kms/model.js');
  const { DEFINITION_FILES, DEFINITION_CALENDAR } = await import('../local/paths.js');
  const env = { account: LOCAL_ACCOUNT_ID, region: DEFAULT_REGION };
  const variants = {
    [DEFINITION_FILES.default]: {},
    [DEFINITION_FILES.changeWindow]: { changeCalendars: [DEFINITION_CALENDAR] },
  };
  // Formatted as the repository's prettier would: `npm run check` checks the files like any other.
  const prettier = await import('prettier');
  mkdirSync(DIST, { recursive: true });
  for (const [name, props] of Object.entries(variants)) {
    const file = join(ROOT, 'local', name);
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
