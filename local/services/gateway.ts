import type { SsmCall } from '../../core/aws-api';
import { ChangeClient } from '../../core/change-client';
import { localLogLevel } from '../env';
import { DEFAULT_EVENT_BUS } from '../../core/defaults';
import type { Members } from '../../core/organisation';
import * as z from '../../core/schema';
import { createGateway, type GatewayResponse } from '../../functions/gateway/gateway';
import { kmsAttestor } from '../../functions/runtime/attestor';
import { createKmsClient, createSfnClient } from '../../functions/runtime/aws';
import { createLogger } from '../../functions/runtime/logger';
import { localClientConfig } from './clients';
import { localEventPublisher } from './events';
import type { InternalAccess } from './internal-access';
import { parseJsonBody, type Answer, type IncomingRequest, type LocalService } from './local-service';
import { GATEWAY_PATH, LOCAL_SESSION_BOUND_ROLES } from '../constants';

/** What the local gateway works on: the stack, the workflow's Region and state machine, keymat's own access. */
export interface LocalGatewaySettings {
  endpoint: string;
  region: string;
  stateMachineArn: string;
  internal: InternalAccess;
  /** The member accounts and Regions whose keys it takes changes for, as the deployed gateway's `KEYMAT_MEMBERS`. */
  members?: Members;
  /** Who may submit a custodian's copy, as the deployed gateway's `KEYMAT_CUSTODIANS`; none: anyone who may call it. */
  custodians: string[];
}

/** Runbook starts read the automation's record from SSM, which the local stack does not emulate. */
const NO_SSM: SsmCall = async () => {
  throw new Error('SSM is not emulated locally');
};

/** The gateway's code, as its Function URL runs it, with clients that call the local stack as keymat itself. */
function gateway(
  settings: LocalGatewaySettings,
): (event: unknown) => Promise<GatewayResponse | { executionArn: string }> {
  const aws = localClientConfig(settings.endpoint, settings.region, settings.internal.credentials);
  const attestor = kmsAttestor(createKmsClient(aws), settings.internal.attestationKeyArn);
  return createGateway({
    changes: new ChangeClient({
      sfn: createSfnClient(aws),
      stateMachineArn: settings.stateMachineArn,
      attestor,
      events: localEventPublisher(aws),
    }),
    attestor,
    ssm: NO_SSM,
    config: {
      stateMachineArn: settings.stateMachineArn,
      attestationKeyArn: settings.internal.attestationKeyArn,
      sessionBoundRoles: [...LOCAL_SESSION_BOUND_ROLES],
      custodians: settings.custodians,
      eventBusName: DEFAULT_EVENT_BUS,
      ...(settings.members && { members: settings.members }),
    },
    logger: createLogger({ logLevel: localLogLevel() }),
  });
}

const FORBIDDEN: Answer = {
  status: 403,
  headers: { 'content-type': 'application/json' },
  body: JSON.stringify({ Message: 'Forbidden' }),
};

/**
 * The gateway at `POST /gateway/<route>` (`/changes`, `/approve`, `/reject`), served by the same code as its Function
 * URL with `AuthType AWS_IAM`: the caller is the IAM user of the request's SigV4 access key id (as the local STS
 * names it), handed to the gateway in `requestContext.authorizer.iam`; a request with no signature is refused 403
 * as a Function URL refuses it. The body never says who the caller is.
 */
export class LocalGateway implements LocalService {
  /** Claims unsigned requests too, to refuse them as a Function URL does rather than as an AWS API does. */
  readonly anonymous = true;
  private readonly gateway: (event: unknown) => Promise<GatewayResponse | { executionArn: string }>;

  constructor(settings: LocalGatewaySettings) {
    this.gateway = gateway(settings);
  }

  matches(request: IncomingRequest): boolean {
    return request.url.pathname.startsWith(`${GATEWAY_PATH}/`);
  }

  async handle(request: IncomingRequest): Promise<Answer> {
    const rawPath = request.url.pathname.slice(GATEWAY_PATH.length);
    const log = { service: 'gateway', operation: `${request.method} ${rawPath.slice(0, 64)}` };
    if (request.accessKeyId === '' || !request.headers.authorization) {
      return { ...FORBIDDEN, log: { ...log, error: 'Forbidden' } };
    }
    const answer = await this.gateway({
      rawPath,
      body: request.body,
      isBase64Encoded: false,
      requestContext: {
        http: { method: request.method },
        authorizer: { iam: { userArn: request.caller.arn } },
      },
    });
    // Only a runbook invocation (never built here) answers without an HTTP status.
    const response = 'statusCode' in answer ? answer : { statusCode: 200, headers: {}, body: JSON.stringify(answer) };
    return {
      status: response.statusCode,
      headers: response.headers,
      body: response.body,
      log: { ...log, ...(response.statusCode >= 400 && { error: errorOf(response.body) }) },
    };
  }
}

const refusalBody = z.lazy(() => z.object({ error: z.string() }));

/** The error name a refusal's body carries, for the request log. */
function errorOf(body: string): string {
  const parsed = refusalBody.safeParse(parseJsonBody(body));
  return parsed.success ? parsed.data.error : 'Error';
}
