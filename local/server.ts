import { randomBytes, randomUUID } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { KmsError } from './kms/errors';
import { FaultInjector, type FaultFile } from './kms/faults';
import { DEFAULT_REGION, emptyKmsState, type KmsState } from './kms/model';
import { KmsService, MUTATING_OPERATIONS, type CallRecord } from './kms/service';
import { RequestLog } from './request-log';
import { APPROVAL_PAGE_PATH } from './engine';
import { LocalStepFunctions, SfnError } from './sfn';
import { LocalSns } from './sns';
import { getCallerIdentity } from './sts';
import type { WorkflowSettings } from './workflow';
import { DEFAULT_STATE_DIR, StateFile } from './state-file';

export interface LocalStackOptions {
  /** TCP port on 127.0.0.1; 0 picks a free one. @default 0 */
  port?: number;
  /** @default '.keymat' */
  stateDir?: string;
  /** Faults to inject into KMS calls. @default no faults */
  faults?: FaultFile;
  /** Serve the deletion workflow (Step Functions API, STS) as well as KMS and SNS. @default KMS and SNS only */
  workflow?: WorkflowSettings;
}

/** A request as the local stack sees it after reading the SigV4 credential scope. */
interface Incoming {
  accessKeyId: string;
  region: string;
  service: string;
  target: string | undefined;
  body: string;
}

const CREDENTIAL_SCOPE = /Credential=([^/]+)\/\d{8}\/([^/]+)\/([^/]+)\/aws4_request/;

/**
 * The embedded local stack: one HTTP server on 127.0.0.1 that speaks KMS's JSON 1.1 protocol, so the real SDK
 * clients and the AWS CLI talk to it through an endpoint override. State lives in the state folder.
 */
export class LocalStack {
  readonly kms: KmsService;
  readonly sns: LocalSns;
  readonly requestLog: RequestLog;
  private readonly kmsFile: StateFile<KmsState>;
  private faults: FaultInjector;
  private sfn: LocalStepFunctions | undefined;

  private constructor(
    private readonly server: Server,
    readonly stateDir: string,
    faults: FaultFile | undefined,
  ) {
    this.kmsFile = new StateFile(join(stateDir, 'kms.json'), emptyKmsState);
    this.requestLog = new RequestLog(join(stateDir, 'requests.jsonl'));
    this.faults = new FaultInjector(faults);
    this.kms = new KmsService(this.kmsFile.load(), this.faults);
    this.sns = new LocalSns(join(stateDir, 'outbox.jsonl'));
  }

  /**
   * Starts the stack on a state folder and advertises its endpoint there (`server.json`) so other keymat commands
   * use it. Refuses a folder that another live local stack is serving: two writers would lose each other's changes.
   */
  static async start(options: LocalStackOptions = {}): Promise<LocalStack> {
    const stateDir = options.stateDir ?? DEFAULT_STATE_DIR;
    const running = runningEndpoint(stateDir);
    if (running) {
      throw new Error(
        `state folder ${stateDir} is already served by keymat at ${running}; stop it or use another --state-dir`,
      );
    }
    mkdirSync(stateDir, { recursive: true });
    const server = createServer();
    // Longer than any client's idle reuse of a kept-alive socket here, so a request never meets a closing socket.
    server.keepAliveTimeout = 120_000;
    server.headersTimeout = 125_000;
    const stack = new LocalStack(server, stateDir, options.faults);
    server.on('request', (req, res) => void stack.handle(req, res));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(options.port ?? 0, '127.0.0.1', () => resolve());
    });
    if (options.workflow) {
      // Loaded only here: it brings the CDK app, which `keymat local kms serve` does not need.
      const { prepareWorkflow } = require('./workflow') as typeof import('./workflow');
      stack.sfn = new LocalStepFunctions(stateDir, prepareWorkflow(stack.endpoint, options.workflow));
    }
    writeFileSync(serverFile(stateDir), JSON.stringify({ pid: process.pid, endpoint: stack.endpoint }));
    return stack;
  }

  get endpoint(): string {
    const { port } = this.server.address() as AddressInfo;
    return `http://127.0.0.1:${port}`;
  }

  /** The served state machine's ARN, when the stack serves the workflow. */
  get stateMachineArn(): string | undefined {
    return this.sfn?.stateMachineArn;
  }

  async close(): Promise<void> {
    rmSync(serverFile(this.stateDir), { force: true });
    this.sfn?.drain();
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    if (this.sfn && url.pathname === APPROVAL_PAGE_PATH) {
      await this.handlePage(req.method ?? 'GET', url, Buffer.concat(chunks).toString('utf8'), res);
      return;
    }
    const scope = CREDENTIAL_SCOPE.exec(req.headers.authorization ?? '');
    const incoming: Incoming = {
      accessKeyId: scope?.[1] ?? '',
      region: scope?.[2] ?? DEFAULT_REGION,
      service: scope?.[3] ?? '',
      target: req.headers['x-amz-target'] as string | undefined,
      body: Buffer.concat(chunks).toString('utf8'),
    };
    if (!scope) {
      sendJsonError(
        res,
        randomUUID(),
        new KmsError('MissingAuthenticationTokenException', 'Missing Authentication Token'),
      );
      return;
    }
    if (incoming.target?.startsWith('TrentService.')) {
      await this.handleKms(incoming, res);
      return;
    }
    if (incoming.target === 'secretsmanager.GetSecretValue') {
      this.handleSecret(incoming, res);
      return;
    }
    if (incoming.target?.startsWith('AWSStepFunctions.')) {
      await this.handleSfn(incoming, res);
      return;
    }
    if (incoming.service === 'sns') {
      this.handleSns(incoming, res);
      return;
    }
    if (incoming.service === 'sts') {
      const requestId = randomUUID();
      const answer = getCallerIdentity(incoming.body, incoming.accessKeyId, requestId);
      res.writeHead(answer.status, { 'content-type': 'text/xml', 'x-amzn-requestid': requestId });
      res.end(answer.xml);
      return;
    }
    sendJsonError(
      res,
      randomUUID(),
      new KmsError('UnknownOperationException', `No local service answers ${incoming.service}`),
    );
  }

  /** Replaces the fault plan of a running stack; counters and the seeded generator start over. */
  setFaults(faults: FaultFile): void {
    this.faults = new FaultInjector(faults);
    this.kms.faults = this.faults;
  }

  private async handleSfn(incoming: Incoming, res: ServerResponse): Promise<void> {
    const operation = (incoming.target as string).slice('AWSStepFunctions.'.length);
    const requestId = randomUUID();
    let status = 200;
    let error: string | undefined;
    try {
      if (!this.sfn)
        throw new SfnError('UnknownOperationException', 'this local stack serves KMS only: use keymat local serve');
      let body: Record<string, unknown>;
      try {
        body = JSON.parse(incoming.body || '{}') as Record<string, unknown>;
      } catch {
        throw new SfnError('SerializationException', 'The request body is not valid JSON');
      }
      const result = await this.sfn.call(operation, body);
      res.writeHead(200, { 'content-type': 'application/x-amz-json-1.0', 'x-amzn-requestid': requestId });
      res.end(JSON.stringify(result));
    } catch (err) {
      const e = err instanceof SfnError ? err : new SfnError('InternalFailure', (err as Error).message, 500);
      status = e.status;
      error = e.type;
      res.writeHead(e.status, { 'content-type': 'application/x-amz-json-1.0', 'x-amzn-requestid': requestId });
      res.end(JSON.stringify({ __type: e.type, message: e.message }));
    }
    this.requestLog.append({
      time: new Date().toISOString(),
      service: 'states',
      region: incoming.region,
      operation,
      status,
      ...(error && { error }),
      requestId,
    });
  }

  /** The approval page, served by the same handler code as the Lambda Function URL in AWS. */
  private async handlePage(method: string, url: URL, body: string, res: ServerResponse): Promise<void> {
    const { handler } =
      require('../functions/approval-page/handler') as typeof import('../functions/approval-page/handler');
    const answer = await handler({ requestContext: { http: { method } }, rawQueryString: url.search.slice(1), body });
    res.writeHead(answer.statusCode, answer.headers);
    res.end(answer.body);
  }

  /** Secrets Manager GetSecretValue for the approval-link secret, kept in the state folder (mode 0600). */
  private handleSecret(incoming: Incoming, res: ServerResponse): void {
    const file = join(this.stateDir, 'approval-link-secret');
    if (!existsSync(file)) writeFileSync(file, randomBytes(32).toString('base64url'), { mode: 0o600 });
    const secretId = (JSON.parse(incoming.body || '{}') as { SecretId?: string }).SecretId;
    res.writeHead(200, { 'content-type': 'application/x-amz-json-1.1', 'x-amzn-requestid': randomUUID() });
    res.end(JSON.stringify({ ARN: secretId, Name: 'keymat-approval-links', SecretString: readFileSync(file, 'utf8') }));
  }

  private handleSns(incoming: Incoming, res: ServerResponse): void {
    const requestId = randomUUID();
    const answer = this.sns.handle(incoming.body, requestId);
    res.writeHead(answer.status, { 'content-type': 'text/xml', 'x-amzn-requestid': requestId });
    res.end(answer.xml);
    this.requestLog.append({
      time: new Date().toISOString(),
      service: 'sns',
      region: incoming.region,
      operation: answer.action,
      status: answer.status,
      ...(answer.error && { error: answer.error }),
      requestId,
    });
  }

  private async handleKms(incoming: Incoming, res: ServerResponse): Promise<void> {
    const operation = (incoming.target as string).slice('TrentService.'.length);
    const requestId = randomUUID();
    const record: CallRecord = {};
    let status = 200;
    let error: string | undefined;
    try {
      const decision = this.faults.decide(operation, incoming.region, Date.now());
      if (decision.latencyMs > 0) await sleep(decision.latencyMs);
      if (decision.error) throw decision.error;
      let body: Record<string, unknown>;
      try {
        body = JSON.parse(incoming.body || '{}') as Record<string, unknown>;
      } catch {
        throw new KmsError('SerializationException', 'The request body is not valid JSON');
      }
      const ctx = { region: incoming.region, requestId, now: Date.now() };
      const result = await this.kms.call(operation, body, ctx, record);
      if (MUTATING_OPERATIONS.has(operation) || this.kms.takeUnsavedExpiry()) this.kmsFile.save(this.kms.state);
      if (decision.errorAfterApply) throw decision.errorAfterApply;
      res.writeHead(200, { 'content-type': 'application/x-amz-json-1.1', 'x-amzn-requestid': requestId });
      res.end(JSON.stringify(result));
    } catch (err) {
      const kmsError =
        err instanceof KmsError
          ? err
          : new KmsError('KMSInternalException', `Internal error: ${(err as Error).message}`);
      status = kmsError.status;
      error = kmsError.type;
      sendJsonError(res, requestId, kmsError);
    }
    const keyMaterialId = record.keyMaterialId ?? memberOf(incoming.body, 'KeyMaterialId');
    this.requestLog.append({
      time: new Date().toISOString(),
      service: 'kms',
      region: incoming.region,
      operation,
      keyId: record.keyArn ?? memberOf(incoming.body, 'KeyId'),
      ...(keyMaterialId && { keyMaterialId }),
      status,
      ...(error && { error }),
      requestId,
    });
  }
}

const serverFile = (stateDir: string): string => join(stateDir, 'server.json');

/** The endpoint of the live local stack serving `stateDir`, if there is one. */
export function runningEndpoint(stateDir: string): string | undefined {
  let advertised: { pid: number; endpoint: string };
  try {
    advertised = JSON.parse(readFileSync(serverFile(stateDir), 'utf8')) as { pid: number; endpoint: string };
  } catch {
    return undefined;
  }
  if (advertised.pid === process.pid) return advertised.endpoint;
  try {
    process.kill(advertised.pid, 0);
    return advertised.endpoint;
  } catch {
    return undefined; // left behind by a process that died
  }
}

function sendJsonError(res: ServerResponse, requestId: string, err: KmsError): void {
  res.writeHead(err.status, {
    'content-type': 'application/x-amz-json-1.1',
    'x-amzn-requestid': requestId,
    'x-amzn-errortype': err.type,
  });
  res.end(JSON.stringify({ __type: err.type, message: err.message }));
}

/** A request's KeyId or KeyMaterialId as sent, for the log when the emulator did not resolve it. Nothing else is read. */
function memberOf(body: string, member: 'KeyId' | 'KeyMaterialId'): string | undefined {
  try {
    const value = (JSON.parse(body) as Record<string, unknown>)[member];
    return typeof value === 'string' ? value.slice(0, 2048) : undefined;
  } catch {
    return undefined;
  }
}
