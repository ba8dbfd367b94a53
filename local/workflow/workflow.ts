import { randomUUID } from 'node:crypto';
import { attestStart } from '../../core/attestation';
import { localDefinition } from './definition';
import { DEFAULT_WAIT_SECONDS } from '../../core/defaults';
import { distinctApprovers } from '../../core/identity';
import { checkCalendarName } from '../../core/naming';
import * as z from '../../core/schema';
import type { RecoveryProofMode } from '../../core/types';
import {
  createLocalTasks,
  localAttestor,
  runLocalExecution,
  type ExecutionResult,
  type LocalChangeManagement,
  type LocalOrganisation,
  type LocalRunOptions,
} from './engine';
import type { FaultFile } from '../kms/faults';
import { DEFAULT_REGION, LOCAL_ACCOUNT_ID, LOCAL_SESSION_BOUND_ROLES } from '../constants';
import { openInternalAccess, type InternalAccess } from '../services/internal-access';
import { localClientConfig } from '../services/clients';
import { localEventPublisher } from '../services/events';
import { LocalStack } from '../services/server';
import { readOutboxMessage, readRequestLog, requestLogEnd, runningEndpoint } from '../state/store';
import type { LocalWorkflowDefinition } from '../services/sfn';

/** The local workflow's settings (those of its definition, see `localDefinition`) and where its tasks send calls. */
export interface WorkflowSettings {
  /** The RequestApproval timeout. */
  approvalTimeoutSeconds: number;
  /** @default DEFAULT_WAIT_SECONDS */
  defaultWaitSeconds?: number;
  /** Each other Lambda task's timeout. @default DEFAULT_TASK_TIMEOUT_SECONDS */
  taskTimeoutSeconds?: number;
  /** Distinct approvers a change needs. @default 1 */
  quorum?: number;
  /** Distinct approvers a restore needs. @default DEFAULT_RESTORE_QUORUM */
  restoreQuorum?: number;
  /** Identities allowed to approve. @default anyone but the requester */
  approvers?: string[];
  /**
   * Principals (ARNs or ARN patterns) allowed to submit a custodian's copy at the gateway, as a deployment's
   * `custodians`. @default anyone who may call the gateway
   */
  custodians?: string[];
  /** How strongly changes are asked for a recovery proof. @default DEFAULT_RECOVERY_PROOF */
  recoveryProof?: RecoveryProofMode;
  /** How long a change waits for a custodian's proof. @default DEFAULT_PROOF_TIMEOUT_SECONDS */
  proofTimeoutSeconds?: number;
  /** A KMS endpoint other than the local stack's (LocalStack, another emulator). */
  kmsEndpoint?: string;
  /** Freeze windows (calendars in the state folder) and the change-ticket check (the local stub). @default neither */
  changeManagement?: LocalChangeManagement;
  /** Member accounts (of the state folder's organisation) and approval rules. @default the hub's account only */
  organisation?: LocalOrganisation;
}

export interface LocalWorkflowOptions extends WorkflowSettings {
  stateDir: string;
  faults?: FaultFile;
}

/**
 * The workflow's definition with the settings (what every local execution runs) and its tasks, with clients pointed
 * at the local stack's endpoint; they are made once the stack's internal access is known.
 */
export function prepareWorkflow(endpoint: string, settings: WorkflowSettings): LocalWorkflowDefinition {
  const env = { account: LOCAL_ACCOUNT_ID, region: DEFAULT_REGION };
  const defaultWaitSeconds = settings.defaultWaitSeconds ?? DEFAULT_WAIT_SECONDS;
  // Checked before anything runs: a bad name would otherwise fail the first change at its plan.
  const calendars = (settings.changeManagement?.changeCalendars ?? []).map(checkCalendarName);
  const custodians = distinctApprovers(settings.custodians ?? [], { sessionBoundRoles: LOCAL_SESSION_BOUND_ROLES });
  const prepare = (internal: InternalAccess) => ({
    tasks: createLocalTasks({
      endpoint,
      ...(settings.kmsEndpoint && { kmsEndpoint: settings.kmsEndpoint }),
      ...env,
      defaultWaitSeconds,
      internal,
      ...(settings.changeManagement && { changeManagement: settings.changeManagement }),
      ...(settings.organisation && { organisation: settings.organisation }),
    }),
    attestor: localAttestor(endpoint, env.region, internal),
    events: localEventPublisher(localClientConfig(endpoint, env.region, internal.credentials)),
  });
  const definition = localDefinition({
    approvalTimeoutSeconds: settings.approvalTimeoutSeconds,
    ...(settings.taskTimeoutSeconds !== undefined && { taskTimeoutSeconds: settings.taskTimeoutSeconds }),
    ...(settings.quorum !== undefined && { quorum: settings.quorum }),
    ...(settings.restoreQuorum !== undefined && { restoreQuorum: settings.restoreQuorum }),
    ...(settings.approvers !== undefined && { approvers: settings.approvers }),
    ...(settings.recoveryProof !== undefined && { recoveryProof: settings.recoveryProof }),
    ...(settings.proofTimeoutSeconds !== undefined && { proofTimeoutSeconds: settings.proofTimeoutSeconds }),
    changeWindow: calendars.length > 0,
  });
  return {
    definition,
    prepare,
    ...env,
    custodians,
    ...(settings.organisation && { members: settings.organisation.members }),
  };
}

/** How a run ended, and the KMS calls the stack's request log recorded while it ran (other clients' calls too). */
export interface LocalRunResult extends ExecutionResult {
  kmsCalls: { operation: string; keyId: string | null; status: number; error: string | null }[];
}

/** The deletion workflow on the embedded local stack, ready to run executions. */
export interface LocalWorkflow {
  endpoint: string;
  stateDir: string;
  /**
   * Runs one execution. The runner stands in for keymat's gateway: an input naming its requester (`requestedBy`)
   * is attested for that requester (channel `local-run`) before it starts, as the gateway attests an authenticated
   * start; any other input starts as given, and ValidateOrigin refuses it.
   */
  run(
    input: unknown,
    options: Omit<LocalRunOptions, 'definition' | 'tasks' | 'attestor' | 'events' | 'input' | 'account' | 'region'>,
  ): Promise<LocalRunResult>;
  close(): Promise<void>;
}

/**
 * Prepares the workflow with the settings, points its tasks at the local stack (the one serving the state folder, or
 * one started here) and returns a runner for its executions.
 */
export async function openLocalWorkflow(options: LocalWorkflowOptions): Promise<LocalWorkflow> {
  const served = runningEndpoint(options.stateDir);
  if (served && options.faults) {
    throw new Error(`state folder ${options.stateDir} is served at ${served}: give --faults to that server instead`);
  }
  const stack = served ? undefined : await LocalStack.start({ stateDir: options.stateDir, faults: options.faults });
  const endpoint = served ?? (stack as LocalStack).endpoint;
  const { definition, account, region, prepare } = prepareWorkflow(endpoint, options);
  const internal = stack ? stack.internalAccess : await openInternalAccess(options.stateDir, endpoint, region);
  const workflow = { definition, account, region, ...prepare(internal) };
  return {
    endpoint,
    stateDir: options.stateDir,
    run: async (input, runOptions) => {
      const executionName = runOptions.executionName ?? randomUUID();
      const requested = requestedStart.safeParse(input);
      const attested = requested.success
        ? await attestStart(workflow.attestor, executionName, requested.data, 'local-run', new Date())
        : input;
      const logEnd = requestLogEnd(options.stateDir);
      const result = await runLocalExecution((messageId) => readOutboxMessage(options.stateDir, messageId), {
        ...runOptions,
        ...workflow,
        executionName,
        input: attested,
      });
      const kmsCalls = readRequestLog(options.stateDir, logEnd)
        .filter((entry) => entry.service === 'kms')
        .map((entry) => ({
          operation: entry.operation,
          keyId: entry.keyId ?? null,
          status: entry.status,
          error: entry.error ?? null,
        }));
      return { ...result, kmsCalls };
    },
    close: async () => stack?.close(),
  };
}

/** An input that names its requester, as a start through the gateway does. */
const requestedStart = z.lazy(() => z.looseObject({ requestedBy: z.string() }));
