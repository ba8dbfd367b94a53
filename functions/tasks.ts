import type { AnyTaskState } from '../core/tasks';
import type { WindowCheck } from '../core/change-window';
import type { DeletionResult, Outcome, RecoveryProven, RestorationResult, VerificationResult } from '../core/types';
import type { ImportParameters } from '../core/recovery';
import { createCheckChangeWindow, type CheckChangeWindowDeps } from './check-change-window/check-change-window';
import { createCheckState, type CheckStateDeps, type CheckStateResult } from './check-state/check-state';
import { createDeleteMaterial, type DeleteMaterialDeps } from './delete-material/delete-material';
import { createNotifyOutcome, type NotifyOutcomeDeps } from './notify-outcome/notify-outcome';
import { createProveRecovery, type ProofRequested, type ProveRecoveryDeps } from './prove-recovery/prove-recovery';
import {
  createRequestApproval,
  type RequestApprovalDeps,
  type RequestApprovalResult,
} from './request-approval/request-approval';
import {
  createValidateOrigin,
  type ValidateOriginDeps,
  type ValidateOriginResult,
} from './validate-origin/validate-origin';
import { createVerifyPendingImport, type VerifyPendingImportDeps } from './verify-pending-import/verify-pending-import';

export type {
  CheckChangeWindowDeps,
  CheckStateDeps,
  DeleteMaterialDeps,
  NotifyOutcomeDeps,
  ProveRecoveryDeps,
  RequestApprovalDeps,
  ValidateOriginDeps,
  VerifyPendingImportDeps,
};

/** What each task's factory needs: its clients, its configuration and a logger. */
export interface TaskDeps {
  ValidateOrigin: ValidateOriginDeps;
  CheckState: CheckStateDeps;
  ProveRecovery: ProveRecoveryDeps;
  RequestApproval: RequestApprovalDeps;
  CheckChangeWindow: CheckChangeWindowDeps;
  DeleteMaterial: DeleteMaterialDeps;
  VerifyPendingImport: VerifyPendingImportDeps;
  NotifyOutcome: NotifyOutcomeDeps;
}

/** What each task returns to the state machine. */
export interface TaskResults {
  ValidateOrigin: ValidateOriginResult;
  CheckState: CheckStateResult;
  /** At AwaitRecoveryProof the request's id; at ProveRecovery the proof; at RestoreMaterial the import. */
  ProveRecovery: ImportParameters | ProofRequested | RecoveryProven | RestorationResult;
  RequestApproval: RequestApprovalResult;
  CheckChangeWindow: WindowCheck;
  DeleteMaterial: DeletionResult;
  VerifyPendingImport: VerificationResult;
  NotifyOutcome: Outcome;
}

/** A task's handler: parses the event the state machine passes, throws an error named for Retry/Catch. */
export type TaskHandler<S extends AnyTaskState> = (event: unknown) => Promise<TaskResults[S]>;

/** Makes a task's handler from its dependencies. */
export type TaskFactory<S extends AnyTaskState> = (deps: TaskDeps[S]) => TaskHandler<S>;

/**
 * The task factories by state name. Each Lambda handler calls its own with clients built from its environment;
 * the local stack calls them all with clients pointed at itself.
 */
export const TASK_FACTORIES: { readonly [S in AnyTaskState]: TaskFactory<S> } = {
  ValidateOrigin: createValidateOrigin,
  CheckState: createCheckState,
  ProveRecovery: createProveRecovery,
  RequestApproval: createRequestApproval,
  CheckChangeWindow: createCheckChangeWindow,
  DeleteMaterial: createDeleteMaterial,
  VerifyPendingImport: createVerifyPendingImport,
  NotifyOutcome: createNotifyOutcome,
};
