import { randomUUID } from 'node:crypto';
import {
  DEFAULT_FLEET_MAX_CONCURRENCY,
  DEFAULT_FLEET_TOLERATED_FAILURE_PERCENTAGE,
  DEFAULT_SCAN_EXPIRES_WITHIN_DAYS,
  DEFAULT_SCAN_LIMITS,
  DEFAULT_SCAN_RETIRE_TAG,
  SCAN_KMS_MAX_ATTEMPTS,
} from '../../core/defaults';
import type { FleetItem, FleetScanSummary } from '../../core/fleet-scan';
import type { MapRunOutput } from '../../core/map-results';
import { executionArnOf, FLEET_RESULTS_PREFIX } from '../../core/naming';
import { MEMBER_READ_ROLE, type Members } from '../../core/organisation';
import type { ScanLimits, ScanPolicy } from '../../core/scan-policy';
import { scanStarter } from '../../functions/expiry-scan/expiry-scan';
import { createFleetScan } from '../../functions/expiry-scan/fleet';
import type { ScanDeps } from '../../functions/expiry-scan/scan';
import {
  createOrganizationsClient,
  createS3Client,
  createSfnClient,
  createSnsClient,
} from '../../functions/runtime/aws';
import { createKeyAccess } from '../../functions/runtime/key-access';
import { createLogger } from '../../functions/runtime/logger';
import {
  DEFAULT_REGION,
  FLEET_RESULTS_BUCKET,
  LOCAL_ACCOUNT_ID,
  localResources,
  localStateMachineArn,
} from '../constants';
import { localLogLevel } from '../env';
import { localClientConfig } from '../services/clients';
import { localEventPublisher } from '../services/events';
import { openInternalAccess, taskCredentials, type InternalAccess } from '../services/internal-access';
import { LocalStack } from '../services/server';
import { runningEndpoint } from '../state/store';
import { runDistributedMap, writeMapResults } from './distributed-map';
import { localAttestor } from './engine';

/** The fleet scan's state machine on the local stack (its parent; the children are its map run's executions). */
export const localFleetScanArn = (region: string, account: string): string =>
  `arn:aws:states:${region}:${account}:stateMachine:keymat-fleet-scan`;

export interface LocalFleetScanOptions {
  /** The state folder of the local stack (served, or started here for the run). */
  stateDir: string;
  /** The member accounts and Regions, of the state folder's organisation. */
  members: Members;
  /** @default the deployed scan's default policy */
  policy?: ScanPolicy;
  /** Each child's pace and changes. @default DEFAULT_SCAN_LIMITS */
  limits?: ScanLimits;
  /** Report violations, start nothing. @default false */
  dryRun?: boolean;
  /** @default DEFAULT_FLEET_MAX_CONCURRENCY */
  maxConcurrency?: number;
  /** @default DEFAULT_FLEET_TOLERATED_FAILURE_PERCENTAGE */
  toleratedFailurePercentage?: number;
  /**
   * How a child starts a change for a violation. @default as the deployed scan does: in the local stack's deletion
   * workflow, attested as the scan's own
   */
  start?: ScanDeps['start'];
}

/** How a local fleet scan ran: its Scan Completed detail, and what the run took. */
export interface LocalFleetScanResult {
  summary: FleetScanSummary;
  items: FleetItem[];
  /** The map state's output: where its ResultWriter put the children's results in the stack's S3. */
  results: MapRunOutput;
  /**
   * The state transitions Step Functions would bill for the run: each state entered, in the parent and in every
   * child (a child's retries would add theirs; the local run has none).
   */
  stateTransitions: number;
  /** The invocations of the scan function: the items step, one per child, the summary. */
  invocations: number;
  /** The time spent in those invocations, all together: what Lambda bills as duration. */
  lambdaMs: number;
}

/** States the parent enters (ListScanItems, ScanMembers, SummariseScan) and each child enters (ScanMember). */
const PARENT_STATES = 3;
const CHILD_STATES = 1;

/**
 * Runs the fleet scan on the local stack as the deployed state machine runs it (infra/fleet-scan.ts): the scan
 * function's items step, then its scan step for each item as a child of keymat's local Distributed Map, then its
 * summary step, which puts Scan Completed on the stack's EventBridge and the summary on its outcome topic. Each
 * step runs as the scan's own identity (`keymat-ExpiryScan`), so the member read role's trust is enforced as in AWS.
 */
export async function runLocalFleetScan(options: LocalFleetScanOptions): Promise<LocalFleetScanResult> {
  const served = runningEndpoint(options.stateDir);
  const stack = served ? undefined : await LocalStack.start({ stateDir: options.stateDir });
  try {
    const endpoint = served ?? (stack as LocalStack).endpoint;
    const internal = stack ? stack.internalAccess : await openInternalAccess(options.stateDir, endpoint);
    return await runFleetScan(endpoint, internal, options);
  } finally {
    await stack?.close();
  }
}

async function runFleetScan(
  endpoint: string,
  internal: InternalAccess,
  options: LocalFleetScanOptions,
): Promise<LocalFleetScanResult> {
  const region = DEFAULT_REGION;
  const account = LOCAL_ACCOUNT_ID;
  const credentials = taskCredentials(internal.credentials, 'ExpiryScan');
  const aws = localClientConfig(endpoint, region, credentials);
  const resources = localResources(region, account, internal.attestationKeyArn);
  const stateMachineArn = localStateMachineArn(region, account);
  const step = createFleetScan({
    organizations: createOrganizationsClient(aws),
    keys: createKeyAccess({
      scope: { account, region },
      role: MEMBER_READ_ROLE,
      aws: { endpoint, credentials },
      kmsMaxAttempts: SCAN_KMS_MAX_ATTEMPTS,
    }),
    start:
      options.start ??
      scanStarter(createSfnClient(aws), localAttestor(endpoint, region, internal), { stateMachineArn }),
    events: localEventPublisher(aws),
    sns: createSnsClient(aws),
    s3: createS3Client(aws),
    config: {
      members: options.members,
      partition: 'aws',
      policy: options.policy ?? {
        expiresWithinDays: DEFAULT_SCAN_EXPIRES_WITHIN_DAYS,
        retireTag: DEFAULT_SCAN_RETIRE_TAG,
      },
      limits: options.limits ?? DEFAULT_SCAN_LIMITS,
      outcomeTopicArn: resources.outcomeTopicArn,
    },
    logger: createLogger({ logLevel: localLogLevel() }),
  });

  let lambdaMs = 0;
  const invoke = async (event: unknown): Promise<unknown> => {
    const started = performance.now();
    try {
      return await step(event);
    } finally {
      lambdaMs += performance.now() - started;
    }
  };

  const name = randomUUID();
  const runArn = executionArnOf(localFleetScanArn(region, account), name);
  const dryRun = options.dryRun ?? false;
  const { items } = (await invoke({ step: 'items' })) as { items: FleetItem[] };
  const mapRunArn = `${localFleetScanArn(region, account).replace(':stateMachine:', ':mapRun:')}/ScanMembers:${randomUUID()}`;
  const mapRun = await runDistributedMap({
    mapRunArn,
    items,
    maxConcurrency: options.maxConcurrency ?? DEFAULT_FLEET_MAX_CONCURRENCY,
    toleratedFailurePercentage: options.toleratedFailurePercentage ?? DEFAULT_FLEET_TOLERATED_FAILURE_PERCENTAGE,
    // The deployed map's ItemSelector: the item, the run and its dry-run flag.
    child: (item) => invoke({ step: 'scan', ...item, runArn, dryRun }),
  });
  // The map's ResultWriter, as the state machine's own identity: the results go to S3, and the summary step is told
  // where they are.
  const results = await writeMapResults(
    {
      s3: createS3Client(localClientConfig(endpoint, region, internal.credentials)),
      bucket: FLEET_RESULTS_BUCKET,
      prefix: FLEET_RESULTS_PREFIX,
    },
    mapRunArn,
    mapRun,
  );
  const summary = (await invoke({ step: 'summary', runArn, dryRun, results })) as FleetScanSummary;
  return {
    summary,
    items,
    results,
    stateTransitions: PARENT_STATES + CHILD_STATES * items.length,
    invocations: 2 + items.length,
    lambdaMs,
  };
}
