import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { ApprovalPage } from './approval-page';
import { LocalKms } from './kms/endpoint';
import { FaultInjector, type FaultFile } from './kms/faults';
import { DEFAULT_REGION, emptyKmsState } from './kms/model';
import { KmsService } from './kms/service';
import { RequestLog } from './request-log';
import { Router } from './router';
import { LocalSecrets } from './secrets';
import { LocalStepFunctions, StepFunctionsEndpoint, type LocalWorkflowDefinition } from './sfn';
import { LocalSns } from './sns';
import { DEFAULT_STATE_DIR, StateFile } from './state-file';
import { LocalSts } from './sts';

export interface LocalStackOptions {
  /** TCP port on 127.0.0.1; 0 picks a free one. @default 0 */
  port?: number;
  /** @default '.keymat' */
  stateDir?: string;
  /** Faults to inject into KMS calls. @default no faults */
  faults?: FaultFile;
  /**
   * Serve the deletion workflow (Step Functions API, approval page) as well: given the stack's endpoint once it
   * listens, returns the workflow its executions run (`prepareWorkflow` in local/workflow.ts).
   * @default KMS, SNS, STS and Secrets Manager only
   */
  workflow?: (endpoint: string) => LocalWorkflowDefinition;
}

/**
 * The embedded local stack: one HTTP server on 127.0.0.1 whose router hands each request to one emulated service
 * (KMS, SNS, STS, Secrets Manager, Step Functions, the approval page), so the real SDK clients and the AWS CLI talk
 * to it through an endpoint override. State lives in the state folder.
 */
export class LocalStack {
  readonly requestLog: RequestLog;
  readonly sns: LocalSns;
  private readonly localKms: LocalKms;
  private readonly router: Router;
  private sfn: LocalStepFunctions | undefined;

  /** Reads the state folder: everything here that can fail does so before anything listens. */
  private constructor(
    private readonly server: Server,
    readonly stateDir: string,
    faults: FaultFile | undefined,
  ) {
    const kmsFile = new StateFile(join(stateDir, 'kms.json'), emptyKmsState);
    const injector = new FaultInjector(faults);
    this.localKms = new LocalKms(new KmsService(kmsFile.load(), injector), kmsFile, injector);
    this.requestLog = new RequestLog(join(stateDir, 'requests.jsonl'));
    this.sns = new LocalSns(join(stateDir, 'outbox.jsonl'));
    this.router = new Router(
      [this.localKms, new LocalSecrets(stateDir), this.sns, new LocalSts()],
      this.requestLog,
      DEFAULT_REGION,
    );
  }

  /**
   * Starts the stack on a state folder and advertises its endpoint there (`server.json`) so other keymat commands
   * use it. Refuses a folder that another live local stack is serving: two writers would lose each other's changes.
   * A start that fails closes whatever it opened (the server, `server.json`) and rethrows.
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
    server.on('request', stack.router.listener);
    server.on('clientError', stack.router.clientError);
    try {
      await listen(server, options.port ?? 0);
      // The workflow needs the endpoint, so it is prepared once the server listens; the router holds requests back
      // until it is ready.
      stack.serveWorkflow(options.workflow);
      writeFileSync(serverFile(stateDir), JSON.stringify({ pid: process.pid, endpoint: stack.endpoint }));
    } catch (err) {
      await stack.close();
      throw err;
    }
    stack.router.open();
    return stack;
  }

  private serveWorkflow(workflow: LocalStackOptions['workflow']): void {
    if (workflow) {
      const definition = workflow(this.endpoint);
      this.sfn = new LocalStepFunctions(this.stateDir, definition);
      this.router.add(
        new ApprovalPage({ endpoint: this.endpoint, region: definition.region, account: definition.account }),
      );
    }
    this.router.add(new StepFunctionsEndpoint(this.sfn));
  }

  get endpoint(): string {
    const { port } = this.server.address() as AddressInfo;
    return `http://127.0.0.1:${port}`;
  }

  /** The emulated KMS and its state. */
  get kms(): KmsService {
    return this.localKms.service;
  }

  /** The served state machine's ARN, when the stack serves the workflow. */
  get stateMachineArn(): string | undefined {
    return this.sfn?.stateMachineArn;
  }

  /** Replaces the fault plan of a running stack; counters and the seeded generator start over. */
  setFaults(faults: FaultFile): void {
    this.localKms.setFaults(new FaultInjector(faults));
  }

  async close(): Promise<void> {
    rmSync(serverFile(this.stateDir), { force: true });
    this.sfn?.drain();
    this.server.closeAllConnections();
    // A server that never listened calls back with ERR_SERVER_NOT_RUNNING: it is closed either way.
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}

function listen(server: Server, port: number): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
}

const serverFile = (stateDir: string): string => join(stateDir, 'server.json');

/** The endpoint of the live local stack serving `stateDir`, if there is one. */
export function runningEndpoint(stateDir: string): string | undefined {
  let advertised: unknown;
  try {
    advertised = JSON.parse(readFileSync(serverFile(stateDir), 'utf8'));
  } catch {
    return undefined;
  }
  if (!isAdvertisement(advertised)) return undefined;
  if (advertised.pid === process.pid) return advertised.endpoint;
  try {
    process.kill(advertised.pid, 0);
    return advertised.endpoint;
  } catch {
    return undefined; // left behind by a process that died
  }
}

/** What `server.json` holds: who serves the folder, and where. */
interface Advertisement {
  pid: number;
  endpoint: string;
}

const isAdvertisement = (value: unknown): value is Advertisement =>
  typeof value === 'object' &&
  value !== null &&
  typeof (value as Partial<Advertisement>).pid === 'number' &&
  typeof (value as Partial<Advertisement>).endpoint === 'string';
