import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { DEFAULT_REGION, DEFAULT_STATE_DIR, FLEET_RESULTS_BUCKET } from '../constants';
import { ApprovalPage } from './approval-page';
import type { LocalCredentials } from './clients';
import { LocalLambda, LocalSsm } from './change-management';
import { LocalEvents } from './events';
import { LocalGateway } from './gateway';
import { Identities } from './identities';
import {
  ensureAttestationKey,
  internalCredentials,
  isKeymatIdentity,
  keymatAccessKeyIds,
  type InternalAccess,
} from './internal-access';
import { LocalKms } from '../kms/endpoint';
import { FaultInjector, type FaultFile } from '../kms/faults';
import { KmsService } from '../kms/service';
import { RequestLog } from './request-log';
import { LocalS3 } from './s3';
import { Router } from './router';
import { LocalSecrets } from './secrets';
import { LocalStepFunctions, StepFunctionsEndpoint, type LocalWorkflowDefinition } from './sfn';
import { LocalSns } from './sns';
import { OrganizationReader } from '../state/organization';
import { LocalOrganizations } from './organizations';
import { StateStore } from '../state/store';
import { LocalSts } from './sts';

export interface LocalStackOptions {
  /** TCP port on 127.0.0.1; 0 picks a free one. @default 0 */
  port?: number;
  /** @default DEFAULT_STATE_DIR */
  stateDir?: string;
  /** Faults to inject into KMS calls. @default no faults */
  faults?: FaultFile;
  /**
   * Serve the deletion workflow (Step Functions API, approval page) as well: given the stack's endpoint once it
   * listens, returns the workflow its executions run (`prepareWorkflow` in local/workflow/workflow.ts).
   * @default KMS, SNS, STS and Secrets Manager only
   */
  workflow?: (endpoint: string) => LocalWorkflowDefinition;
  /**
   * Advertise the endpoint in the state folder, so other keymat commands use this stack. A stack started for one
   * command and closed right after does not: the others wait for the folder instead of calling a closing server.
   * @default true
   */
  advertise?: boolean;
}

/**
 * The embedded local stack: one HTTP server on 127.0.0.1 whose router hands each request to one emulated service
 * (KMS, SNS, STS, Secrets Manager, EventBridge, SSM's calendars, Lambda's change-ticket stub, Step Functions, the
 * approval page, the gateway), so the real SDK clients and the
 * AWS CLI talk to it through an endpoint override. State lives in the state folder's database (local/state/store.ts), with
 * keymat's internal credentials and (in the KMS state) its attestation key, made on the folder's first start. The stack
 * owns the folder while it runs: a second one on the same folder is refused.
 */
export class LocalStack {
  readonly requestLog: RequestLog;
  readonly sns: LocalSns;
  private readonly localKms: LocalKms;
  private readonly router: Router;
  private readonly credentials: LocalCredentials;
  private attestationKeyArn: string | undefined;
  private sfn: LocalStepFunctions | undefined;

  /** Reads the state folder: everything here that can fail does so before anything listens. */
  private constructor(
    private readonly server: Server,
    readonly stateDir: string,
    private readonly store: StateStore,
    faults: FaultFile | undefined,
  ) {
    const injector = new FaultInjector(faults);
    this.localKms = new LocalKms(new KmsService(store.loadKms(), injector), store, injector);
    this.credentials = internalCredentials(stateDir);
    this.requestLog = new RequestLog(store);
    this.sns = new LocalSns(store);
    const organization = new OrganizationReader(stateDir);
    const identities = new Identities(this.credentials, organization);
    this.router = new Router(
      [
        this.localKms,
        new LocalSecrets(stateDir, keymatAccessKeyIds(this.credentials)),
        this.sns,
        new LocalSts(identities, organization),
        new LocalOrganizations(organization),
        new LocalEvents(store),
        new LocalSsm(stateDir),
        new LocalLambda(stateDir),
        new LocalS3(store, [FLEET_RESULTS_BUCKET], (caller) => isKeymatIdentity(this.credentials, caller)),
      ],
      this.requestLog,
      DEFAULT_REGION,
      identities,
    );
  }

  /**
   * Starts the stack on a state folder: opens its database, claims the folder (refusing one another live local stack
   * owns: two writers would lose each other's changes), and advertises the endpoint there so other keymat commands
   * use it. A start that fails closes whatever it opened (the database, the server) and throws one line naming the
   * file and the fault.
   */
  static async start(options: LocalStackOptions = {}): Promise<LocalStack> {
    const stateDir = options.stateDir ?? DEFAULT_STATE_DIR;
    const store = StateStore.open(stateDir);
    const server = createServer();
    // Longer than any client's idle reuse of a kept-alive socket here, so a request never meets a closing socket.
    server.keepAliveTimeout = 120_000;
    server.headersTimeout = 125_000;
    let stack: LocalStack;
    try {
      const notice = store.claim();
      if (notice) process.stderr.write(`keymat local: ${notice}\n`);
      stack = new LocalStack(server, stateDir, store, options.faults);
    } catch (err) {
      store.close();
      throw err;
    }
    server.on('request', stack.router.listener);
    server.on('clientError', stack.router.clientError);
    try {
      await stack.prepareAttestationKey();
      await listen(server, options.port ?? 0);
      // The workflow needs the endpoint, so it is prepared once the server listens; the router holds requests back
      // until it is ready.
      stack.serveWorkflow(options.workflow);
      if (options.advertise !== false) store.advertise(stack.endpoint);
    } catch (err) {
      await stack.close();
      throw err;
    }
    stack.router.open();
    return stack;
  }

  /** Finds or makes the attestation key and sets its key policy to the internal credential; commits the state. */
  private async prepareAttestationKey(): Promise<void> {
    this.attestationKeyArn = await ensureAttestationKey(this.kms, this.credentials);
    this.localKms.commit();
  }

  private serveWorkflow(workflow: LocalStackOptions['workflow']): void {
    if (workflow) {
      const definition = workflow(this.endpoint);
      const internal = this.internalAccess;
      const sfn = new LocalStepFunctions(this.store, definition, internal);
      this.sfn = sfn;
      const where = { endpoint: this.endpoint, region: definition.region, internal };
      this.router.add(new ApprovalPage({ ...where, account: definition.account }));
      this.router.add(
        new LocalGateway({
          ...where,
          stateMachineArn: sfn.stateMachineArn,
          custodians: definition.custodians,
          ...(definition.members && { members: definition.members }),
        }),
      );
    }
    this.router.add(new StepFunctionsEndpoint(this.sfn, (caller) => isKeymatIdentity(this.credentials, caller)));
  }

  /**
   * keymat's own access to this stack: the internal credentials (from the state folder) and the attestation key. For
   * the in-process signers only; never hand it to a user's client.
   */
  get internalAccess(): InternalAccess {
    if (!this.attestationKeyArn) throw new Error('the local stack has not prepared its attestation key yet');
    // A copy each time: the SDK marks the credentials object a client is given.
    return { credentials: { ...this.credentials }, attestationKeyArn: this.attestationKeyArn };
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

  /** Stops serving, gives up the state folder and closes its database. */
  async close(): Promise<void> {
    this.sfn?.drain();
    this.server.closeAllConnections();
    // A server that never listened calls back with ERR_SERVER_NOT_RUNNING: it is closed either way.
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
    this.store.close();
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
