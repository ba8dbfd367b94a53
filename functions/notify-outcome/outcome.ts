import { TERMINAL_ERRORS, type TerminalErrorName } from '../../core/errors';
import { restoreCommand } from '../../core/recovery';
import type { ChangeInput, Outcome, OutcomeStatus, RecoveryProven, WorkflowState } from '../../core/types';

/** Terminal errors that mean "refused before anything was changed". */
const REFUSALS = new Set<string>(
  TERMINAL_ERRORS.filter(
    (n: TerminalErrorName) => n !== 'ApprovalRejected' && n !== 'ApprovalTimedOut' && n !== 'VerificationFailed',
  ),
);

function status(state: WorkflowState, executionInput: unknown): OutcomeStatus {
  const error = state.error?.Error;
  if (error === 'ApprovalRejected') return 'REJECTED';
  if (error === 'ApprovalTimedOut') return 'TIMED_OUT';
  if (error !== undefined) return REFUSALS.has(error) ? 'REFUSED' : 'FAILED';
  if ((state.input ?? (executionInput as Partial<ChangeInput>))?.dryRun === true) return 'PLANNED';
  if (state.restoration) return 'RESTORED';
  return state.check?.decision === 'ALREADY_DELETED' ? 'ALREADY_DELETED' : 'DELETED';
}

const stringField = (value: unknown, field: string): string | undefined => {
  const v = (value as Record<string, unknown> | null)?.[field];
  return typeof v === 'string' ? v : undefined;
};

/** A proof as the outcome names it: without its attestation, which is for the tasks that verify it. */
const provenBy = ({ provedBy, provedAt, keyMaterialId, submissionDigest }: RecoveryProven) => ({
  provedBy,
  provedAt,
  keyMaterialId,
  submissionDigest,
});

/**
 * The execution's outcome, from whatever the states before produced. When ValidateOrigin refused the input there is
 * no parsed `input`: the raw execution input supplies what it can.
 *
 * An approval answer comes from outside the workflow, so its approvals are listed as approvals only once DeleteMaterial
 * (or RestoreMaterial) verified them and went on to the deletion (or the import); an answer DeleteMaterial refused lists them as refused. A change that
 * ended before DeleteMaterial (rejected, timed out, held past its window) lists none: nothing verified them, and each
 * decision that took effect has its Approval Decided event.
 */
export function outcomeOf(state: WorkflowState, executionInput: unknown): Outcome {
  const input = state.input ?? executionInput;
  const outcome = status(state, executionInput);
  const command =
    state.plan && state.input && (outcome === 'DELETED' || outcome === 'ALREADY_DELETED')
      ? restoreCommand(state.input.changeId, state.plan)
      : undefined;
  return {
    status: outcome,
    changeId: stringField(input, 'changeId'),
    keyArn: state.plan?.keyArn,
    keyMaterialId: state.plan?.keyMaterialId ?? stringField(input, 'keyMaterialId'),
    keyStateBefore: state.plan?.keyStateBefore,
    keyStateAfter: state.verification?.keyStateAfter,
    ...(state.plan && { location: state.plan.location, rules: state.plan.rules }),
    ...(state.recovery?.proof && { recovery: provenBy(state.recovery.proof) }),
    approvals: state.deletion || state.restoration ? (state.approval?.approvals ?? []) : [],
    ...(state.error?.Error === ('ApprovalInvalid' satisfies TerminalErrorName) && {
      refusedApprovals: state.approval?.approvals ?? [],
    }),
    kmsRequestId: state.deletion?.kmsRequestId ?? state.restoration?.kmsRequestId ?? null,
    ...(command !== undefined && { restoreCommand: command }),
    ...(outcome === 'RESTORED' && state.plan?.validTo !== undefined && { validTo: state.plan.validTo }),
    ...(state.error && { error: state.error.Error, cause: state.error.Cause }),
  };
}
