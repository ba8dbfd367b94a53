/**
 * Function start-up as it deploys: the stack synthesized in-process with the default configuration, each Lambda
 * function's asset (the bundle `npm run build` made, copied by synthesis) loaded by `node` with the function's own
 * environment from the template (NODE_OPTIONS included), the handler imported as the Lambda runtime imports it.
 */
import { App } from 'aws-cdk-lib';
import { buildSync } from 'esbuild';
import { execFile, execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { KeymatStack, propsFromContext } from '../infra/index';

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

/**
 * A function's load and what it costs over bare Node, each load paired with a bare `node -e 0` run just before it:
 * the median of the differences holds when the machine's speed drifts during the bench (a shared machine's does, by
 * half its speed within minutes), where one baseline taken at the start would not.
 */
function timeLoad(args: string[], env: Record<string, string>): { loadMs: number; overMs: number } {
  const loads: number[] = [];
  const overs: number[] = [];
  for (let i = 0; i < LOAD_SAMPLES; i++) {
    const bare = nodeRunMs(['-e', '0'], RUNTIME_VARIABLES);
    const load = nodeRunMs(args, env);
    loads.push(load);
    overs.push(load - bare);
  }
  return { loadMs: median(loads), overMs: median(overs) };
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
  memorySize: number;
  loadMs: number;
  /** The median of each load less the bare `node -e 0` run just before it. */
  overMs: number;
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

/** Loads each function's handler LOAD_SAMPLES times, each after a bare run, and reports the medians. */
export function measureLoads(functions: DeployedFunction[]): LoadFigure[] {
  return functions.map((f) => {
    const env = functionEnvironment(f);
    const rss = execFileSync(
      process.execPath,
      ['-e', loader(f, 'process.stdout.write(String(process.memoryUsage().rss));')],
      {
        env,
        encoding: 'utf8',
      },
    );
    return {
      name: f.name,
      bytes: startupBytes(f.file),
      memorySize: f.memorySize,
      ...timeLoad(['-e', loader(f)], env),
      rssBytes: Number(rss),
    };
  });
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
    figures: measureLoads(functions),
    firstCallMs: await measureFirstCall(functions),
  }));
  process.stdout.write(`node -e 0: ${baseline.toFixed(1)} ms\n`);
  for (const f of figures) {
    process.stdout.write(
      `${f.name.padEnd(24)} ${(f.bytes / 1024).toFixed(0).padStart(5)} KB  ${f.loadMs.toFixed(1).padStart(6)} ms  +${f.overMs.toFixed(1)} ms  ${(f.rssBytes / 1048576).toFixed(0)} MB\n`,
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
