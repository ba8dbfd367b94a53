/**
 * Function start-up as it deploys: the stack synthesized in-process with the default configuration, each Lambda
 * function's asset (the bundle `npm run build` made, copied by synthesis) loaded by `node` with the function's own
 * environment from the template (NODE_OPTIONS included), the handler imported as the Lambda runtime imports it.
 */
import { App } from 'aws-cdk-lib';
import { buildSync } from 'esbuild';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { pathToFileURL } from 'node:url';
import { configFromContext, KeymatStack } from '../infra/index';

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
 * Synthesizes the stack into a temporary folder and calls `use` with its functions; the folder goes afterwards.
 */
export function withDeployedFunctions<T>(use: (functions: DeployedFunction[]) => T): T {
  const outdir = mkdtempSync(join(tmpdir(), 'keymat-bench-synth-'));
  try {
    const app = new App({ outdir });
    const stack = new KeymatStack(app, 'Keymat', { config: configFromContext((name) => BENCH_CONTEXT[name]) });
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
    return use(functions);
  } finally {
    rmSync(outdir, { recursive: true, force: true });
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

/** Median wall time of `node ARGS` in a clean environment of only these variables (as a Lambda container has). */
export function timeNode(args: string[], env: Record<string, string>, samples = LOAD_SAMPLES): number {
  const times: number[] = [];
  for (let i = 0; i < samples; i++) {
    const t = process.hrtime.bigint();
    execFileSync(process.execPath, args, { env, stdio: ['ignore', 'ignore', 'pipe'] });
    times.push(Number(process.hrtime.bigint() - t) / 1e6);
  }
  return median(times);
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

/** Loads each function's handler LOAD_SAMPLES times and reports the median. */
export function measureLoads(functions: DeployedFunction[]): LoadFigure[] {
  return functions.map((f) => {
    const env = {
      ...RUNTIME_VARIABLES,
      AWS_LAMBDA_FUNCTION_NAME: f.name.replace(/\W/g, ''),
      AWS_LAMBDA_FUNCTION_MEMORY_SIZE: String(f.memorySize),
      ...f.environment,
    };
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
      loadMs: timeNode(['-e', loader(f)], env),
      rssBytes: Number(rss),
    };
  });
}

if (require.main === module) {
  // `tsx bench/load.ts`: the start-up table alone.
  const baseline = baselineMs();
  const figures = withDeployedFunctions(measureLoads);
  process.stdout.write(`node -e 0: ${baseline.toFixed(1)} ms\n`);
  for (const f of figures) {
    process.stdout.write(
      `${f.name.padEnd(24)} ${(f.bytes / 1024).toFixed(0).padStart(5)} KB  ${f.loadMs.toFixed(1).padStart(6)} ms  +${(f.loadMs - baseline).toFixed(1)} ms  ${(f.rssBytes / 1048576).toFixed(0)} MB\n`,
    );
  }
}
