/**
 * Function start-up as it deploys: the stack synthesized in-process with the default configuration, each Lambda
 * function's asset (the bundle `npm run build` made, copied by synthesis) loaded by `node` with the function's own
 * environment from the template (NODE_OPTIONS included), the handler imported as the Lambda runtime imports it; and
 * beside it a reference bundle built the same way from Powertools Logger and the SDK clients that function makes, so
 * that what is left is keymat's own cost.
 */
import { App } from 'aws-cdk-lib';
import { build, buildSync } from 'esbuild';
import { execFile, execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { KeymatStack, propsFromContext } from '../infra/index';
import { functionFolderName } from '../infra/keymat-function';
import { buildFunctions, functionBuild, type FunctionBundle } from '../scripts/build';

/** Samples per measurement; the median is reported. */
export const LOAD_SAMPLES = 11;

/** Values standing in for what CloudFormation resolves at deployment. */
const ACCOUNT = '111122223333';
const REGION = 'us-east-1';

/** What the Lambda runtime itself sets in every function's environment (as far as the code reads it). */
const RUNTIME_VARIABLES = {
  AWS_REGION: REGION,
  AWS_DEFAULT_REGION: REGION,
  AWS_EXECUTION_ENV: 'AWS_Lambda_nodejs24.x',
  AWS_LAMBDA_FUNCTION_MEMORY_SIZE: '256',
  AWS_LAMBDA_FUNCTION_VERSION: '$LATEST',
  // The runtime's Node is 24; this machine's may be older, and the SDK would say so on stderr.
  AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
};

/** One deployed function as the template describes it. */
export interface DeployedFunction {
  /** The construct path's first segment(s), e.g. `CheckState` or `ExpiryScanJob/ExpiryScan`. */
  name: string;
  /** The handler's file in the synthesized asset. */
  file: string;
  /** The exported handler's name (`index.handler` → `handler`). */
  exportName: string;
  memorySize: number;
  /** The function's environment, intrinsic functions replaced by values of their shape. */
  environment: Record<string, string>;
}

type Intrinsic = string | { Ref: string } | { 'Fn::GetAtt': [string, string] } | Record<string, unknown>;

/** A value of the shape CloudFormation would put in place of a Ref or Fn::GetAtt. */
function resolve(value: Intrinsic, logicalId: string): string {
  if (typeof value === 'string') return value;
  if ('Ref' in value && value.Ref === 'AWS::AccountId') return ACCOUNT;
  if ('Ref' in value && value.Ref === 'AWS::Region') return REGION;
  if ('Ref' in value) return `arn:aws:sns:${REGION}:${ACCOUNT}:${String(value.Ref)}`;
  const getAtt = value['Fn::GetAtt'];
  if (Array.isArray(getAtt) && getAtt[1] === 'FunctionUrl') return `https://${String(getAtt[0])}.lambda-url.aws/`;
  if (Array.isArray(getAtt)) return `arn:aws:kms:${REGION}:${ACCOUNT}:key/${String(getAtt[0])}`;
  throw new Error(`${logicalId}: cannot stand in for the environment value ${JSON.stringify(value)}`);
}

interface TemplateResource {
  Type: string;
  Properties: {
    Handler?: string;
    MemorySize?: number;
    Code?: { S3Key?: string };
    Environment?: { Variables?: Record<string, Intrinsic> };
  };
  Metadata?: Record<string, unknown>;
}

/**
 * The deployment measured: every optional function present (change calendars add CheckChangeWindow; the ticket check
 * is an ARN, not a function of the stack). Their clients load on first use, so the other functions start the same.
 */
const BENCH_CONTEXT: Record<string, string> = {
  changeCalendars: 'change-freeze',
  changeTicketCheck: 'arn:aws:lambda:us-east-1:111122223333:function:change-ticket-check',
};

/**
 * Synthesizes the stack into a temporary folder and calls `use` with its functions; the folder goes afterwards (once
 * the promise `use` returns settles, if it returns one).
 */
export function withDeployedFunctions<T>(use: (functions: DeployedFunction[]) => T): T {
  const outdir = mkdtempSync(join(tmpdir(), 'keymat-bench-synth-'));
  const remove = (): void => rmSync(outdir, { recursive: true, force: true });
  let removeNow = true;
  try {
    const app = new App({ outdir });
    const stack = new KeymatStack(
      app,
      'Keymat',
      propsFromContext((name) => BENCH_CONTEXT[name]),
    );
    const assembly = app.synth();
    const artifact = assembly.getStackByName(stack.stackName);
    const template = artifact.template as { Resources: Record<string, TemplateResource> };
    const manifest = JSON.parse(readFileSync(join(outdir, `${stack.stackName}.assets.json`), 'utf8')) as {
      files: Record<string, { displayName?: string; source: { path: string } }>;
    };
    const functions = Object.entries(template.Resources)
      .filter(([, r]) => r.Type === 'AWS::Lambda::Function' && r.Properties.Code?.S3Key !== undefined)
      .map(([logicalId, r]): DeployedFunction => {
        const hash = (r.Properties.Code?.S3Key ?? '').replace(/\.zip$/, '');
        const asset = manifest.files[hash];
        if (!asset) throw new Error(`${logicalId}: no asset ${hash} in the assembly`);
        const [module, exportName] = (r.Properties.Handler ?? '').split('.');
        const dir = join(outdir, asset.source.path);
        const file = ['.mjs', '.js', '.cjs'].map((ext) => join(dir, `${module}${ext}`)).find(exists);
        if (!file || !exportName) throw new Error(`${logicalId}: no handler ${r.Properties.Handler} in ${dir}`);
        const variables = r.Properties.Environment?.Variables ?? {};
        return {
          name: (asset.displayName ?? logicalId).replace(/\/Default\/Code$/, ''),
          file,
          exportName,
          memorySize: r.Properties.MemorySize ?? 128,
          environment: Object.fromEntries(Object.entries(variables).map(([k, v]) => [k, resolve(v, logicalId)])),
        };
      });
    const result = use(functions);
    if (!(result instanceof Promise)) return result;
    removeNow = false;
    return result.finally(remove) as T;
  } finally {
    if (removeNow) remove();
  }
}

function exists(file: string): boolean {
  try {
    return statSync(file).isFile();
  } catch {
    return false;
  }
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] ?? NaN;
};

/** Wall time of one `node ARGS` in a clean environment of only these variables (as a Lambda container has). */
function nodeRunMs(args: string[], env: Record<string, string>): number {
  const t = process.hrtime.bigint();
  execFileSync(process.execPath, args, { env, stdio: ['ignore', 'ignore', 'pipe'] });
  return Number(process.hrtime.bigint() - t) / 1e6;
}

/** Median wall time of `node ARGS` in a clean environment of only these variables. */
export function timeNode(args: string[], env: Record<string, string>, samples = LOAD_SAMPLES): number {
  return median(Array.from({ length: samples }, () => nodeRunMs(args, env)));
}

/** Median of each pair's difference: each load of `args` less a load of `against` run just before it. */
function timePaired(
  args: string[],
  against: string[],
  env: Record<string, string>,
  againstEnv: Record<string, string> = env,
): { loadMs: number; againstMs: number; overMs: number } {
  const loads: number[] = [];
  const references: number[] = [];
  const overs: number[] = [];
  for (let i = 0; i < LOAD_SAMPLES; i++) {
    const reference = nodeRunMs(against, againstEnv);
    const load = nodeRunMs(args, env);
    loads.push(load);
    references.push(reference);
    overs.push(load - reference);
  }
  return { loadMs: median(loads), againstMs: median(references), overMs: median(overs) };
}

/**
 * The bytes of a handler's module and of every module it imports statically, as esbuild's metafile lists them (chunks
 * imported dynamically load only when called, and are left out).
 */
function startupBytes(file: string): number {
  const { metafile } = buildSync({
    entryPoints: [file],
    bundle: true,
    write: false,
    metafile: true,
    platform: 'node',
    format: 'esm',
    packages: 'external',
    logLevel: 'silent',
    // Its own tsconfig: esbuild would otherwise look for one in the temporary folder's parents.
    tsconfigRaw: '{}',
  });
  const inputs = metafile.inputs;
  const entry = relative(process.cwd(), file);
  const loaded = new Set<string>();
  const visit = (input: string): void => {
    if (loaded.has(input)) return;
    loaded.add(input);
    for (const { path, kind } of inputs[input]?.imports ?? [])
      if (kind === 'import-statement' && path in inputs) visit(path);
  };
  visit(entry);
  return [...loaded].reduce((sum, input) => sum + (inputs[input]?.bytes ?? 0), 0);
}

/** What one function's start-up measured. */
export interface LoadFigure {
  name: string;
  /** The JavaScript a cold start loads: the handler's module and the chunks it imports statically, in bytes. */
  bytes: number;
  /** The same of the function's reference bundle (Powertools Logger and the function's SDK clients). */
  referenceBytes: number;
  /** The SDK clients the function makes, by package (`client-kms`). */
  clients: string[];
  memorySize: number;
  loadMs: number;
  /** The median load of the reference bundle, each run just before one of the function's. */
  referenceMs: number;
  /** keymat's own cost: the median of each load less the reference load run just before it. */
  overMs: number;
  /** The median of each load less a bare `node -e 0` run just before it. */
  overBareMs: number;
  /** The process's resident memory once the handler is loaded, in bytes (one extra run). */
  rssBytes: number;
}

/**
 * The script a function loads with: the handler module imported as the Lambda runtime imports it (dynamic `import`,
 * which takes CommonJS and ES modules alike), failing unless it exports the handler.
 */
const loader = (f: DeployedFunction, then = ''): string =>
  `import(${JSON.stringify(pathToFileURL(f.file).href)}).then((m) => {` +
  `if (typeof m[${JSON.stringify(f.exportName)}] !== 'function') process.exit(3); ${then}})`;

/** The bare `node -e 0` every figure is compared with, in the Lambda runtime's variables alone. */
export const baselineMs = (): number => timeNode(['-e', '0'], RUNTIME_VARIABLES);

/** A function's environment in Lambda: the runtime's variables and the template's. */
const functionEnvironment = (f: DeployedFunction): Record<string, string> => ({
  ...RUNTIME_VARIABLES,
  AWS_LAMBDA_FUNCTION_NAME: f.name.replace(/\W/g, ''),
  AWS_LAMBDA_FUNCTION_MEMORY_SIZE: String(f.memorySize),
  ...f.environment,
});

/** An SDK client package's client class, e.g. `KMSClient` of `@aws-sdk/client-kms`. */
function clientClass(pkg: string): string {
  const names = Object.keys(require(pkg) as object).filter((k) => /^[A-Z]\w*Client$/.test(k));
  if (names.length !== 1) throw new Error(`${pkg}: no single client class among ${names.join(', ')}`);
  return names[0] as string;
}

/**
 * Builds a function's reference bundle into `outdir`: Powertools Logger and one of each SDK client the function
 * makes, created at module load as a handler creates them, bundled with the function's own build options.
 */
async function buildReference(clients: string[], outdir: string): Promise<DeployedFunction['file']> {
  const entry = join(outdir, 'reference.ts');
  const imports = clients.map((c) => `import { ${clientClass(`@aws-sdk/${c}`)} } from '@aws-sdk/${c}';`);
  const made = clients.map((c) => `new ${clientClass(`@aws-sdk/${c}`)}({})`);
  writeFileSync(
    entry,
    [
      "import { Logger } from '@aws-lambda-powertools/logger';",
      ...imports,
      "const logger = new Logger({ serviceName: 'reference' });",
      `const clients = [${made.join(', ')}];`,
      'export const handler = async () => ({ logger, clients });',
    ].join('\n'),
  );
  // Its own tsconfig: esbuild would otherwise look for one in the temporary folder's parents.
  await build({ ...functionBuild(entry, join(outdir, 'bundle')), tsconfigRaw: '{}' });
  return join(outdir, 'bundle', 'index.mjs');
}

/**
 * Each function's start-up against its reference bundle and against bare Node: LOAD_SAMPLES loads of each, paired
 * (bench/load.ts timePaired), in the function's own environment.
 */
export async function measureLoads(functions: DeployedFunction[]): Promise<LoadFigure[]> {
  const work = mkdtempSync(join(tmpdir(), 'keymat-bench-reference-'));
  try {
    const bundles = await buildFunctions(join(work, 'functions'));
    const figures: LoadFigure[] = [];
    for (const f of functions) {
      const folder = functionFolderName(f.name.split('/').pop() as never);
      const bundle = bundles.find((b) => b.folder === folder) as FunctionBundle | undefined;
      if (!bundle) throw new Error(`${f.name}: no function folder ${folder}`);
      const clients = bundle.sdkPackages.filter((p) => p.startsWith('@aws-sdk/client-')).map((p) => p.slice(9));
      const reference = { ...f, file: await buildReference(clients, mkdtempSync(join(work, 'ref-'))) };
      const env = functionEnvironment(f);
      const rss = execFileSync(
        process.execPath,
        ['-e', loader(f, 'process.stdout.write(String(process.memoryUsage().rss));')],
        { env, encoding: 'utf8' },
      );
      const paired = timePaired(['-e', loader(f)], ['-e', loader(reference)], env);
      const bare = timePaired(['-e', loader(f)], ['-e', '0'], env, RUNTIME_VARIABLES);
      figures.push({
        name: f.name,
        bytes: startupBytes(f.file),
        referenceBytes: startupBytes(reference.file),
        clients,
        memorySize: f.memorySize,
        loadMs: paired.loadMs,
        referenceMs: paired.againstMs,
        overMs: paired.overMs,
        overBareMs: bare.overMs,
        rssBytes: Number(rss),
      });
    }
    return figures;
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

/** The function whose first invocation is timed: it makes its first AWS calls (DescribeKey, ListKeyRotations) at once. */
const FIRST_CALL_FUNCTION = 'VerifyPendingImport';

/** The change and plan of VerifyPendingImport's event, and the key as the stub describes it: the deletion done. */
const FIRST_CALL_KEY = {
  arn: `arn:aws:kms:${REGION}:${ACCOUNT}:key/1234abcd-12ab-34cd-56ef-1234567890ab`,
  materialId: 'a'.repeat(64),
};
const FIRST_CALL_EVENT = {
  executionId: 'bench-first-call',
  input: {
    keyId: FIRST_CALL_KEY.arn,
    changeId: 'bench-first-call',
    reason: 'start-up bench',
    requestedBy: 'bench',
    waitSeconds: 0,
    dryRun: false,
  },
  plan: {
    keyArn: FIRST_CALL_KEY.arn,
    aliases: [],
    origin: 'EXTERNAL',
    keyMaterialId: FIRST_CALL_KEY.materialId,
    keyMaterialState: 'CURRENT',
    importStateBefore: 'IMPORTED',
    keyStateBefore: 'Enabled',
    expectedKeyState: 'PendingImport',
    expectedMaterial: 'PENDING_IMPORT',
    alreadyDeleted: false,
    multiRegion: { role: 'NONE', replicas: [], replicasAffected: [] },
    lastUsage: { known: false },
    warnings: [],
    digest: '0'.repeat(64),
  },
};

/** A KMS endpoint on 127.0.0.1 answering DescribeKey and ListKeyRotations with the key after the deletion. */
const FIRST_CALL_ANSWERS: Record<string, object> = {
  'TrentService.DescribeKey': {
    KeyMetadata: { KeyId: FIRST_CALL_KEY.arn.split('/')[1], Arn: FIRST_CALL_KEY.arn, KeyState: 'PendingImport' },
  },
  'TrentService.ListKeyRotations': {
    Rotations: [{ KeyId: FIRST_CALL_KEY.arn, KeyMaterialId: FIRST_CALL_KEY.materialId, ImportState: 'PENDING_IMPORT' }],
  },
};

/**
 * The first invocation of a freshly loaded function that calls AWS: VerifyPendingImport's handler, timed inside the
 * process from the call to its result, its KMS client sending to a local stub (plain HTTP, no network). What a
 * function loads only when it first calls AWS (the signer, node's http and https) is paid here, not at load; the
 * median of LOAD_SAMPLES fresh processes, in milliseconds.
 */
export async function measureFirstCall(functions: DeployedFunction[]): Promise<number> {
  const f = functions.find((x) => x.name === FIRST_CALL_FUNCTION);
  if (!f) throw new Error(`no ${FIRST_CALL_FUNCTION} function in the stack`);
  const server = createServer((req, res) => {
    req.resume().once('end', () => {
      const answer = FIRST_CALL_ANSWERS[String(req.headers['x-amz-target'])];
      res
        .writeHead(answer ? 200 : 400, { 'content-type': 'application/x-amz-json-1.1', 'x-amzn-requestid': 'bench' })
        .end(JSON.stringify(answer ?? { __type: 'UnknownOperationException' }));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  try {
    const env = {
      ...functionEnvironment(f),
      AWS_ENDPOINT_URL: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
      AWS_ACCESS_KEY_ID: 'AKIDBENCH',
      AWS_SECRET_ACCESS_KEY: 'bench',
      AWS_SESSION_TOKEN: 'bench',
      POWERTOOLS_LOG_LEVEL: 'SILENT',
    };
    const context = {
      functionName: f.name,
      functionVersion: '$LATEST',
      invokedFunctionArn: 'arn',
      memoryLimitInMB: '256',
      awsRequestId: 'bench',
    };
    const invoke = loader(
      f,
      `const t = performance.now(); m[${JSON.stringify(f.exportName)}](${JSON.stringify(FIRST_CALL_EVENT)}, ` +
        `${JSON.stringify(context)}).then(() => process.stderr.write(String(performance.now() - t)));`,
    );
    const times: number[] = [];
    for (let i = 0; i < LOAD_SAMPLES; i++) {
      const { stderr } = await promisify(execFile)(process.execPath, ['-e', invoke], { env });
      times.push(Number(stderr));
    }
    return median(times);
  } finally {
    server.close();
  }
}

/** `tsx bench/load.ts`: the start-up table alone, and the first AWS call. */
async function main(): Promise<void> {
  const baseline = baselineMs();
  const { figures, firstCallMs } = await withDeployedFunctions(async (functions) => ({
    figures: await measureLoads(functions),
    firstCallMs: await measureFirstCall(functions),
  }));
  process.stdout.write(`node -e 0: ${baseline.toFixed(1)} ms\n`);
  for (const f of figures) {
    process.stdout.write(
      `${f.name.padEnd(24)} ${(f.bytes / 1024).toFixed(0).padStart(5)} KB  ${f.loadMs.toFixed(1).padStart(6)} ms  reference ${f.referenceMs.toFixed(1)} ms  keymat +${f.overMs.toFixed(1)} ms\n`,
    );
  }
  process.stdout.write(
    `first AWS call (${FIRST_CALL_FUNCTION}'s first invocation, local stub): ${firstCallMs.toFixed(1)} ms\n`,
  );
}

if (require.main === module) {
  main().catch((err: unknown) => {
    process.stderr.write(`${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exitCode = 1;
  });
}
