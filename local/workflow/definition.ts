import {
  DEFAULT_APPROVAL_TIMEOUT_SECONDS,
  DEFAULT_PROOF_TIMEOUT_SECONDS,
  DEFAULT_QUORUM,
  DEFAULT_RECOVERY_PROOF,
  DEFAULT_RESTORE_QUORUM,
  DEFAULT_TASK_TIMEOUT_SECONDS,
  MAX_PROOF_TIMEOUT_SECONDS,
} from '../../core/defaults';
import { distinctApprovers, reachableBy } from '../../core/identity';
import { LOCAL_SESSION_BOUND_ROLES } from '../constants';
import * as z from '../../core/schema';
import { PROOF_WAIT_STATE } from '../../core/tasks';
import { recoveryProofModeSchema, type ApprovalRules, type RecoveryProofMode } from '../../core/types';
import generated from './workflow.asl.json';
import generatedWithWindow from './workflow-change-window.asl.json';

/**
 * The deletion workflow's definition for the local engine, without synthesizing anything at run time: the build
 * (`npm run build`, scripts/build.ts) synthesizes keymat's stack with the default configuration, and with change
 * calendars, and writes each state machine definition to local/workflow/ (DEFINITION_FILES in local/constants.ts), its tokens resolved
 * to ARNs in the local account and Region (LOCAL_ACCOUNT_ID, DEFAULT_REGION). A local stack's own settings are the few
 * values below, set here in the states that carry them; test/unit/infra/definition.cdk.ts proves the result equals
 * what the construct synthesizes for the same settings, and that the generated files are not stale.
 */
export interface DefinitionSettings {
  /** How long each RequestApproval round waits. @default DEFAULT_APPROVAL_TIMEOUT_SECONDS */
  approvalTimeoutSeconds?: number;
  /** Each other Lambda task's timeout. @default DEFAULT_TASK_TIMEOUT_SECONDS */
  taskTimeoutSeconds?: number;
  /** Distinct approvers a change needs. @default DEFAULT_QUORUM */
  quorum?: number;
  /** Distinct approvers a restore needs. @default DEFAULT_RESTORE_QUORUM */
  restoreQuorum?: number;
  /** Identities allowed to approve. @default anyone but the requester */
  approvers?: string[];
  /** The freeze-window states (the stack has change calendars). @default false */
  changeWindow?: boolean;
  /** How strongly changes are asked for a recovery proof. @default DEFAULT_RECOVERY_PROOF */
  recoveryProof?: RecoveryProofMode;
  /** How long a change waits for a custodian's proof. @default DEFAULT_PROOF_TIMEOUT_SECONDS */
  proofTimeoutSeconds?: number;
}

const json = z.json();
type Json = z.infer<typeof json>;
type JsonObject = { [key: string]: Json };

const isObject = (value: Json | undefined): value is JsonObject =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

/** The object at a path of the definition; a path the generated file lacks means the file is not keymat's. */
function objectAt(root: JsonObject, ...path: (string | number)[]): JsonObject {
  let node: Json | undefined = root;
  for (const step of path) {
    node = Array.isArray(node) && typeof step === 'number' ? node[step] : isObject(node) ? node[step] : undefined;
  }
  if (!isObject(node))
    throw new Error(`local/workflow/workflow.asl.json has no object at ${path.join('.')}: run npm run build`);
  return node;
}

function wholeNumber(name: string, value: number, min: number, max: number): number {
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new RangeError(`DeletionWorkflow: ${name} must be a whole number from ${min} to ${max}; got ${value}`);
  }
  return value;
}

/**
 * The workflow's definition with the settings, as the construct synthesizes it for them.
 *
 * @throws RangeError for a setting the construct would refuse (a quorum the approvers cannot reach, a timeout
 *   below one second)
 */
export function localDefinition(settings: DefinitionSettings = {}): Record<string, unknown> {
  const approvalTimeout = wholeNumber(
    'approvalTimeout',
    settings.approvalTimeoutSeconds ?? DEFAULT_APPROVAL_TIMEOUT_SECONDS,
    1,
    Number.MAX_SAFE_INTEGER,
  );
  const taskTimeout = wholeNumber(
    'taskTimeout',
    settings.taskTimeoutSeconds ?? DEFAULT_TASK_TIMEOUT_SECONDS,
    1,
    Number.MAX_SAFE_INTEGER,
  );
  const quorum = wholeNumber('quorum', settings.quorum ?? DEFAULT_QUORUM, 1, 10);
  const restoreQuorum = wholeNumber('restoreQuorum', settings.restoreQuorum ?? DEFAULT_RESTORE_QUORUM, 1, 10);
  const proofTimeout = wholeNumber(
    'proofTimeout',
    settings.proofTimeoutSeconds ?? DEFAULT_PROOF_TIMEOUT_SECONDS,
    1,
    MAX_PROOF_TIMEOUT_SECONDS,
  );
  const recoveryProof = recoveryProofModeSchema.parse(settings.recoveryProof ?? DEFAULT_RECOVERY_PROOF);
  // Approvers are principals, as in a deployment: a plain name is not an identity anyone authenticates as.
  const approvers = distinctApprovers(settings.approvers ?? [], { sessionBoundRoles: LOCAL_SESSION_BOUND_ROLES });
  reachableBy(approvers, { quorum, restoreQuorum });
  const rules: ApprovalRules = { quorum, allowedApprovers: [...approvers] };

  // A fresh copy each time: the settings are written into it.
  const definition = json.parse(structuredClone(settings.changeWindow ? generatedWithWindow : generated));
  if (!isObject(definition))
    throw new Error('local/workflow/workflow.asl.json is not a state machine definition: run npm run build');
  const states = objectAt(definition, 'States');
  for (const state of Object.values(states)) {
    if (isObject(state) && state.Type === 'Task' && typeof state.TimeoutSeconds === 'number') {
      state.TimeoutSeconds = taskTimeout;
    }
  }
  const requestApproval = objectAt(states, 'RequestApproval');
  requestApproval.TimeoutSeconds = approvalTimeout;
  objectAt(requestApproval, 'Parameters', 'Payload').approvalTimeoutSeconds = approvalTimeout;
  objectAt(states, 'MarkApprovalTimedOut', 'Parameters').Cause =
    `no approval decision within ${approvalTimeout} seconds`;
  const awaitProof = objectAt(states, PROOF_WAIT_STATE);
  awaitProof.TimeoutSeconds = proofTimeout;
  objectAt(awaitProof, 'Parameters', 'Payload').proofTimeoutSeconds = proofTimeout;
  objectAt(states, 'MarkRecoveryNotProven', 'Parameters').Cause =
    `no recovery proof within ${proofTimeout} seconds, and this change requires one`;
  objectAt(states, 'MarkNoRestoreCopy', 'Parameters').Cause =
    `no copy of the material within ${proofTimeout} seconds: nothing was imported`;
  // The deployment's rules and proof mode reach ValidateOrigin only; the plan carries the ones each change takes.
  const validateOrigin = objectAt(states, 'ValidateOrigin', 'Parameters');
  validateOrigin.rules = { ...rules };
  validateOrigin.recoveryProof = recoveryProof;
  validateOrigin.restoreQuorum = restoreQuorum;
  return definition;
}
