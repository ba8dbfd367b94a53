import { CloudFormationClient, DescribeStacksCommand, type Output } from '@aws-sdk/client-cloudformation';
import { KMSClient } from '@aws-sdk/client-kms';
import { SFNClient, type DescribeExecutionCommandOutput, type HistoryEvent } from '@aws-sdk/client-sfn';
import * as z from '../core/schema';
import type { AwsCall, KmsCall, SfnCall } from '../core/aws-api';
import { ChangeClient, type PendingChanges } from '../core/change-client';
import { shellQuote } from '../core/text';
import { cliEnvironment } from './env';
import { SCAN_KMS_MAX_ATTEMPTS } from '../core/defaults';
import { CHANGE_ERRORS, hasErrorName, NETWORK_ERROR } from '../core/errors';
import { wrapKeyMaterial } from '../core/key-wrap';
import type { ImportParameters } from '../core/recovery';
import type { RecoveryProofMode } from '../core/types';
import type { ScanDeps } from '../functions/expiry-scan/scan';
import { createKmsClient, createSfnClient, kmsCall, sdkConfig, sfnCall } from '../functions/runtime/aws';
import { DEFAULT_REGION, GATEWAY_PATH, LOCAL_CREDENTIALS, LOCAL_STATE_MACHINE_ARN } from '../local/constants';
// The store alone, not the local stack: an operator command only needs to find the endpoint.
import { checkStateFolder, runningEndpoint } from '../local/state/store';
import { callGateway, GatewayError, type GatewayEndpoint } from './gateway-client';
import { CliError, type CliIo } from './output';

/**
 * Where the operator commands act: a deployed stack, or the local stack serving a state folder. Operators read Step
 * Functions directly (status, history, pending); they start and decide changes only through the gateway, which
 * records them as whoever signed the request.
 */
export interface Target {
  stateMachineArn: string;
  /** The changes of the target's workflow, for reading: this client has no attestor, so it cannot approve. */
  changes: ChangeClient;
  /** KMS, for the expiry scan: throttling is tried again with backoff (`SCAN_KMS_MAX_ATTEMPTS`). */
  kms: KmsCall;
  /** The gateway, found on first use (for a deployed stack that may take a CloudFormation lookup). */
  gateway: () => Promise<GatewayEndpoint>;
}

const targetOf = (
  sfn: SfnCall,
  kms: KmsCall,
  stateMachineArn: string,
  gateway: () => Promise<GatewayEndpoint>,
): Target => ({
  stateMachineArn,
  changes: new ChangeClient({ sfn: socketErrors(sfn), stateMachineArn }),
  kms: socketErrors(kms),
  gateway,
});

/**
 * The endpoint of the local stack serving a state folder. Refuses a folder that is none (LocalStateError, from
 * `checkStateFolder`) and one no stack serves, saying how to serve it.
 */
export function servedEndpoint(stateDir: string): string {
  checkStateFolder(stateDir);
  const endpoint = runningEndpoint(stateDir);
  if (!endpoint) {
    throw new CliError(
      `no local stack is serving ${stateDir}: start one with: keymat local serve --state-dir ${shellQuote(stateDir)}`,
    );
  }
  return endpoint;
}

/**
 * The local stack of a state folder, as the caller: the given credentials (from `AWS_ACCESS_KEY_ID`), else the public
 * local credentials. The same SDK clients as for a deployed stack call it, at its endpoint and in its Region. Its
 * gateway is served at `<endpoint>/gateway`.
 */
export function localTarget(stateDir: string, credentials?: { accessKeyId: string; secretAccessKey: string }): Target {
  const endpoint = servedEndpoint(stateDir);
  const creds = credentials ?? LOCAL_CREDENTIALS;
  const options = { endpoint, region: DEFAULT_REGION, credentials: creds };
  const gateway: GatewayEndpoint = { url: `${endpoint}${GATEWAY_PATH}`, region: DEFAULT_REGION, credentials: creds };
  return targetOf(
    createSfnClient(options),
    createKmsClient({ ...options, maxAttempts: SCAN_KMS_MAX_ATTEMPTS }),
    LOCAL_STATE_MACHINE_ARN,
    () => Promise.resolve(gateway),
  );
}

/**
 * keymat's clients name a request that got no answer NetworkError (for the workflow's Retry rules), with the socket's
 * error as its cause. The CLI shows the socket's error itself: `connect ECONNREFUSED …` says more to an operator than
 * "the request did not complete".
 */
export const socketErrors =
  <A extends object>(call: AwsCall<A>): AwsCall<A> =>
  (operation, input) =>
    call(operation, input).catch((err: unknown) => {
      throw (hasErrorName(err, NETWORK_ERROR) && (err as Error).cause) || err;
    });

/** Where a deployed stack is, as the options and the environment name it. */
export interface AwsTargetOptions {
  stateMachineArn?: string;
  gatewayUrl?: string;
  /** The CloudFormation stack whose outputs name what the options and the environment leave out. */
  stackName: string;
}

/** A Function URL's host names its Region: `<url-id>.lambda-url.<region>.on.aws`. */
const FUNCTION_URL_HOST = /^[a-z0-9]+\.lambda-url\.([a-z0-9-]+)\.on\.aws$/;

/**
 * A deployed stack. The state machine ARN comes from the option, `KEYMAT_STATE_MACHINE_ARN` (of `variables`), or the
 * `StateMachineArn` output of the CloudFormation stack; the gateway from `--gateway-url`, `KEYMAT_GATEWAY_URL`, or the
 * `GatewayUrl` output, signed for the Region its host names (else the SDK's Region). The SDK's own configuration
 * chain (the process's environment and the AWS config files) supplies credentials, Region, FIPS
 * (`AWS_USE_FIPS_ENDPOINT`) and any `AWS_ENDPOINT_URL*` override.
 */
export async function awsTarget(options: AwsTargetOptions, variables: CliIo['env']): Promise<Target> {
  const env = cliEnvironment(variables);
  let outputs: Promise<Output[]> | undefined;
  const output = async (key: string): Promise<string> => {
    outputs ??= stackOutputs(options.stackName);
    const value = (await outputs).find((o) => o.OutputKey === key)?.OutputValue;
    if (!value) throw new CliError(`stack ${options.stackName} has no ${key} output`);
    return value;
  };
  const stateMachineArn = options.stateMachineArn ?? env.stateMachineArn ?? (await output('StateMachineArn'));
  const sfn = new SFNClient({});
  let gateway: Promise<GatewayEndpoint> | undefined;
  const findGateway = async (): Promise<GatewayEndpoint> => {
    const given = options.gatewayUrl ?? env.gatewayUrl ?? (await output('GatewayUrl'));
    const url = gatewayUrl(given);
    const region = FUNCTION_URL_HOST.exec(url.hostname)?.[1] ?? (await sfn.config.region());
    return { url: url.href, region };
  };
  const kms = new KMSClient(sdkConfig({ maxAttempts: SCAN_KMS_MAX_ATTEMPTS }));
  return targetOf(sfnCall(sfn), kmsCall(kms), stateMachineArn, () => (gateway ??= findGateway()));
}

/** The outputs of a CloudFormation stack. */
export async function stackOutputs(stackName: string): Promise<Output[]> {
  const stacks = await new CloudFormationClient({}).send(new DescribeStacksCommand({ StackName: stackName }));
  return stacks.Stacks?.[0]?.Outputs ?? [];
}

/**
 * A hub resource a command acts on: the one given (an option, else its environment variable), else the stack's output
 * naming it, which only a hub with members has.
 *
 * @param what - What the output names, for the error: `a fleet scan`, `a fleet doctor`
 * @throws CliError when none is given and the stack has no such output
 */
export async function givenOrStackOutput(
  given: string | undefined,
  stackName: string,
  output: string,
  what: string,
): Promise<string> {
  if (given !== undefined) return given;
  const value = (await stackOutputs(stackName)).find((o) => o.OutputKey === output)?.OutputValue;
  if (!value) {
    throw new CliError(`stack ${stackName} has no ${output} output: a hub has ${what} only when deployed with members`);
  }
  return value;
}

function gatewayUrl(given: string): URL {
  let url: URL | undefined;
  try {
    url = new URL(given);
  } catch {
    url = undefined;
  }
  if (!url || (url.protocol !== 'https:' && url.protocol !== 'http:')) {
    throw new CliError(
      `the gateway URL must be an https URL such as https://<id>.lambda-url.<region>.on.aws/ (the stack's GatewayUrl output); got '${given}'`,
    );
  }
  return url;
}

/**
 * A gateway refusal as a one-line CLI error: a change refusal (no execution, nothing to decide, not allowed to
 * approve...) says it all; any other answer leads with its error name.
 */
function cliErrorOf(err: unknown, gateway: GatewayEndpoint): unknown {
  if (!(err instanceof GatewayError)) return err;
  if (hasErrorName(err, ...CHANGE_ERRORS)) return new CliError(err.message);
  const hint =
    err.status === 403 && !hasErrorName(err, 'InvalidIdentity')
      ? ` (the gateway at ${gateway.url} refused the request: your credentials need lambda:InvokeFunctionUrl on it)`
      : '';
  return new CliError(`${err.code}: ${err.message}${hint}`);
}

/** Sends one request to the target's gateway; its refusals become one-line CLI errors. */
async function viaGateway<S extends z.ZodMiniType>(
  target: Target,
  path: string,
  body: Record<string, unknown>,
  answer: S,
): Promise<z.infer<S>> {
  const gateway = await target.gateway();
  try {
    return await callGateway(gateway, path, body, answer);
  } catch (err) {
    throw cliErrorOf(err, gateway);
  }
}

/** An execution given by ARN or by name (a name is looked up under the target's state machine). */
export const executionArn = (target: Target, execution: string): string => target.changes.executionArn(execution);

/** A change as `keymat start` gives it; the requester is whoever signs the request, and the workflow applies the defaults. */
export interface StartRequest {
  keyId: string;
  keyMaterialId?: string;
  changeId: string;
  reason: string;
  waitSeconds?: number;
  dryRun?: boolean;
  /** The change imports the deleted material back instead of deleting it. */
  restore?: boolean;
  /** A recovery proof stricter than the deployment's. */
  recoveryProof?: RecoveryProofMode;
  /** A restore's expiry: the material comes back expiring at this instant (ISO 8601). */
  validTo?: string;
}

const startAnswer = z.object({ executionArn: z.string(), state: z.enum(['STARTED', 'RUNNING', 'FINISHED']) });

/** What the gateway did with a start: `STARTED` a new execution, or found the change's `RUNNING` one. */
export type StartAnswer = { executionArn: string; state: 'STARTED' | 'RUNNING' };

/**
 * Starts a change through the gateway, which checks the input as the workflow will and records the caller as the
 * requester. Starting the same change again returns its running execution; a finished one is not started twice.
 */
export async function startChange(target: Target, request: StartRequest): Promise<StartAnswer> {
  // Only what was given goes in: the workflow applies its own defaults, and the same command gives the same input.
  const body = Object.fromEntries(Object.entries(request).filter(([, v]) => v !== undefined));
  const started = await viaGateway(target, '/changes', body, startAnswer);
  if (started.state === 'FINISHED') {
    const { status } = await target.changes.describe(started.executionArn);
    throw new CliError(
      `change ${request.changeId} already ran as execution ${started.executionArn} (${status}); use a new change id`,
    );
  }
  return { executionArn: started.executionArn, state: started.state };
}

/** DescribeExecution of an execution given by name or ARN; a missing one is refused as ExecutionNotFound. */
export const describe = (target: Target, execution: string): Promise<DescribeExecutionCommandOutput> =>
  target.changes.describe(execution);

/** Every event of an execution given by name or ARN. */
export const history = (target: Target, execution: string): Promise<HistoryEvent[]> =>
  target.changes.history(execution);

const approveAnswer = z.object({
  executionArn: z.string(),
  approver: z.string(),
  approvals: z.int(),
  quorum: z.int(),
});

/** What the gateway recorded for an approval: who approved, and how many of the approvals needed there are now. */
export type ApproveAnswer = z.infer<typeof approveAnswer>;

/**
 * Approves through the gateway as the caller; the gateway refuses the requester and anyone the rules leave out, and
 * an approval of an unproven change without `irreversible`, the approver's confirmation that it may be irreversible.
 */
export const approve = (
  target: Target,
  execution: string,
  comment?: string,
  options: { irreversible?: boolean } = {},
): Promise<ApproveAnswer> =>
  viaGateway(
    target,
    '/approve',
    { execution, ...(comment !== undefined && { comment }), ...(options.irreversible && { irreversible: true }) },
    approveAnswer,
  );

const proofAnswer = z.object({
  executionArn: z.string(),
  custodian: z.string(),
  keyMaterialId: z.string(),
  submissionDigest: z.string(),
  /** The copy is an approved restore's, which imports it; else a proof before a deletion's approval. */
  restore: z.boolean(),
});

/** What the gateway took: who submitted the copy, for which material, and the copy's SHA-256. */
export type ProofAnswer = z.infer<typeof proofAnswer>;

/**
 * A custodian's copy of the material for a recovery proof: wrapped already (in an HSM, under the published
 * parameters), or in plaintext, which is wrapped here, in this process, and never sent.
 */
export type CustodianCopy = { wrapped: Buffer } | { material: Buffer };

/**
 * Submits a recovery proof through the gateway as the caller (the custodian): the copy wrapped under the published
 * import parameters, with their token. The execution must be the one the parameters were published for.
 */
export async function proveRecovery(
  target: Target,
  execution: string,
  parameters: ImportParameters,
  copy: CustodianCopy,
): Promise<ProofAnswer> {
  const arn = executionArn(target, execution);
  if (arn !== parameters.executionArn) {
    throw new CliError(
      `the import parameters were published for ${parameters.executionArn}, not for ${arn}: use the request of this execution`,
    );
  }
  const wrapped =
    'wrapped' in copy
      ? copy.wrapped
      : wrapKeyMaterial(Buffer.from(parameters.publicKey, 'base64'), copy.material, parameters.wrappingAlgorithm);
  return viaGateway(
    target,
    '/recovery',
    {
      execution: arn,
      wrappedKeyMaterial: wrapped.toString('base64'),
      importToken: parameters.importToken,
      wrappingAlgorithm: parameters.wrappingAlgorithm,
    },
    proofAnswer,
  );
}

const rejectAnswer = z.object({
  executionArn: z.string(),
  rejectedBy: z.string(),
  as: z.enum(['APPROVER', 'REQUESTER']),
});

/** Who rejected, and whether as an approver or as the requester withdrawing their own change. */
export type RejectAnswer = z.infer<typeof rejectAnswer>;

/**
 * Rejects through the gateway as the caller: the change ends ApprovalRejected with the comment in the cause. Only an
 * allowed approver rejects, or the requester, who withdraws the change.
 */
export const reject = (target: Target, execution: string, comment: string): Promise<RejectAnswer> =>
  viaGateway(target, '/reject', { execution, comment }, rejectAnswer);

/** Executions waiting for an approval (with their plans), and those held by a CLOSED change calendar. */
export const pendingChanges = (target: Target): Promise<PendingChanges> => target.changes.pending();

/**
 * The expiry scan's way to start a change from the CLI: through the gateway, as the operator running the scan (the
 * gateway names the requester). A change id already in use with other input (started by an earlier run, or by
 * another operator) counts as started.
 */
export function gatewayStarter(target: Target): ScanDeps['start'] {
  return async (changeId, change) => {
    const gateway = await target.gateway();
    try {
      const started = await callGateway(gateway, '/changes', { ...change, changeId }, startAnswer);
      return started.state === 'STARTED' ? 'STARTED' : 'EXISTS';
    } catch (err) {
      if (hasErrorName(err, 'ChangeIdInUse')) return 'EXISTS';
      throw cliErrorOf(err, gateway);
    }
  };
}
