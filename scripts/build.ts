/**
 * `npm run build` (run by `prepare` and `prepack`): everything the package ships, under dist/.
 *
 * - dist/functions/<folder>/index.js: each Lambda function bundled once with esbuild, the exact code that deploys
 *   (the constructs take these folders with `Code.fromAsset`; synthesis bundles nothing);
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

const common: BuildOptions = { bundle: true, platform: 'node', format: 'cjs', logLevel: 'warning' };

/** The functions, bundled as they deploy: minified, source maps, the pinned SDK included. */
export async function buildFunctions(): Promise<void> {
  await Promise.all(
    FUNCTION_FOLDERS.map(async (folder) => {
      const outdir = join(DIST, 'functions', folder);
      rmSync(outdir, { recursive: true, force: true });
      await build({
        ...common,
        entryPoints: { index: join(ROOT, 'functions', folder, 'handler.ts') },
        outdir,
        target: LAMBDA_TARGET,
        minify: true,
        // Maps for source-mapped stack traces (NODE_OPTIONS=--enable-source-maps), without the sources themselves.
        sourcemap: true,
        sourcesContent: false,
        // The SDK and Powertools prefer their ES module builds, which bundle smaller.
        mainFields: ['module', 'main'],
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
