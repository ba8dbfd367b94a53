/**
 * `npm run build` (run by `prepare` and `prepack`): everything the package ships, under dist/.
 *
 * - dist/functions/<folder>/index.mjs: each Lambda function bundled once with esbuild as an ES module, the exact code
 *   that deploys (the constructs take these folders with `Code.fromAsset`; synthesis bundles nothing);
 * - local/workflow.asl.json (and a copy at dist/workflow.asl.json): the state machine definition synthesized from the
 *   construct with the default configuration, which the local engine runs;
 * - dist/cli/keymat.js: the CLI, one file whose commands load when used; it never loads aws-cdk-lib;
 * - dist/cdk/: the construct library (`keymat/cdk`), aws-cdk-lib and constructs left to the CDK app, with typings.
 *
 * `tsx scripts/build.ts cli` builds the CLI alone (the tests run the built CLI; it takes a fraction of a second).
 */
import { build, type BuildOptions } from 'esbuild';
import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const ROOT = join(__dirname, '..');
const DIST = join(ROOT, 'dist');

/** Every function the stack deploys, by the folder holding its handler.ts. */
export const FUNCTION_FOLDERS = [
  'validate-origin',
  'check-state',
  'request-approval',
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
 * What the functions' bundles leave out: the SDK's default credential chain imports these only when an earlier link
 * found nothing, and in Lambda its first link (the runtime's AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY and
 * AWS_SESSION_TOKEN) always answers. Profiles, SSO, credential processes and web identity files do not exist there;
 * bundled, they and the STS and SSO clients they carry were a fifth of each bundle, compiled at every cold start.
 * The container-credentials link stays. None of keymat's operations streams events.
 */
export const FUNCTION_EXTERNALS = [
  '@aws-sdk/credential-provider-ini',
  '@aws-sdk/credential-provider-process',
  '@aws-sdk/credential-provider-sso',
  '@aws-sdk/credential-provider-web-identity',
  '@smithy/core/event-streams',
];

const common: BuildOptions = { bundle: true, platform: 'node', format: 'cjs', logLevel: 'warning' };

/**
 * The functions, bundled as they deploy: ES modules (the SDK's and Powertools' ES builds tree-shake to the commands a
 * function sends), minified, the pinned SDK included. Each bundle's source map is written beside it but not enabled at
 * start (parsing it would add to every cold start): functions/runtime/source-maps.ts reads it when an error is first
 * logged or thrown.
 *
 * @param root - The folder to put them in, one subfolder per function. @default dist/functions
 */
export async function buildFunctions(root: string = join(DIST, 'functions')): Promise<void> {
  await Promise.all(
    FUNCTION_FOLDERS.map(async (folder) => {
      const outdir = join(root, folder);
      rmSync(outdir, { recursive: true, force: true });
      await build({
        ...common,
        entryPoints: { index: join(ROOT, 'functions', folder, 'handler.ts') },
        outdir,
        format: 'esm',
        outExtension: { '.js': '.mjs' },
        target: LAMBDA_TARGET,
        minify: true,
        sourcemap: true,
        sourcesContent: false,
        mainFields: ['module', 'main'],
        external: FUNCTION_EXTERNALS,
        // The CommonJS parts of the dependencies require Node's built-in modules, which an ES module has no
        // `require` for.
        banner: {
          js: "import { createRequire as __keymatRequire } from 'node:module'; const require = __keymatRequire(import.meta.url);",
        },
      });
    }),
  );
}

/** The CLI: its own code in one file, the runtime dependencies loaded from node_modules when a command needs them. */
export async function buildCli(): Promise<void> {
  const outfile = join(DIST, 'cli', 'keymat.js');
  await build({
    ...common,
    entryPoints: [join(ROOT, 'cli', 'main.ts')],
    outfile,
    target: CLI_TARGET,
    packages: 'external',
    banner: { js: '#!/usr/bin/env node' },
    sourcemap: 'linked',
    sourcesContent: false,
  });
}

/** The construct library: its code in one file; aws-cdk-lib, constructs and the rest stay the app's dependencies. */
export async function buildCdk(): Promise<void> {
  const outdir = join(DIST, 'cdk');
  rmSync(outdir, { recursive: true, force: true });
  await build({
    ...common,
    entryPoints: { index: join(ROOT, 'infra', 'index.ts') },
    outdir,
    target: CLI_TARGET,
    packages: 'external',
  });
  execFileSync(process.execPath, [require.resolve('typescript/bin/tsc'), '-p', join(ROOT, 'tsconfig.cdk.json')], {
    stdio: 'inherit',
  });
}

/** Synthesizes the workflow with the default configuration and writes its definition for the local engine. */
export async function generateDefinition(): Promise<void> {
  // Loaded here: building the CLI alone needs no CDK.
  const { synthesizeDefinition } = await import('../infra/definition.js');
  const { configFromContext } = await import('../infra/config.js');
  const { DEFAULT_REGION, LOCAL_ACCOUNT_ID } = await import('../local/kms/model.js');
  const definition = synthesizeDefinition(
    configFromContext(() => undefined),
    {
      account: LOCAL_ACCOUNT_ID,
      region: DEFAULT_REGION,
    },
  );
  const file = join(ROOT, 'local', 'workflow.asl.json');
  // Formatted as the repository's prettier would: `npm run check` checks the file like any other.
  const prettier = await import('prettier');
  const text = await prettier.format(JSON.stringify(definition), {
    ...(await prettier.resolveConfig(file)),
    filepath: file,
  });
  if (readIfExists(file) !== text) writeFileSync(file, text);
  mkdirSync(DIST, { recursive: true });
  copyFileSync(file, join(DIST, 'workflow.asl.json'));
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
  await Promise.all([buildCli(), buildCdk()]);
  process.stdout.write(`built dist/ in ${((Date.now() - started) / 1000).toFixed(1)} s\n`);
}

if (require.main === module) {
  main().catch((err: unknown) => {
    process.stderr.write(`build failed: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exitCode = 1;
  });
}
