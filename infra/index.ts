/**
 * keymat's construct library, `keymat/cdk`: the whole stack (`KeymatStack`), or the workflow alone
 * (`DeletionWorkflow`, given a function per task, e.g. `KeymatFunction`s), with the props they take; and for an
 * organisation, the member roles (`KeymatMembersStack` as a StackSet, `KeymatMemberRolesStack` for the management
 * account) and the fleet scan (`FleetScan`).
 * aws-cdk-lib and constructs are the CDK app's own (peer dependencies); the functions' code is the package's
 * prebuilt bundles. This repository's cdk.json app (infra/app.ts) uses this same entry point.
 */
export { KeymatStack, type KeymatStackProps } from './keymat-stack';
export { KeymatFunction, type KeymatFunctionProps } from './keymat-function';
export { ExpiryScan, type ExpiryScanProps } from './expiry-scan';
export { FleetScan, type FleetInventory, type FleetScanProps } from './fleet-scan';
export { AttestationKey } from './attestation-key';
export { KeyScopeGrants, type KeyScope } from './key-scope';
export { RunbookDocument, type RunbookDocumentProps } from './runbook';
export {
  hubRoleName,
  KeymatMemberRoles,
  KeymatMemberRolesStack,
  KeymatMembersStack,
  MemberAccess,
  type KeymatMemberRolesProps,
  type KeymatMembersStackProps,
} from './members';
export {
  DEFAULT_KEY_TAG,
  DEFAULT_SCAN_LIMITS,
  DEFAULT_SCAN_POLICY,
  membersPropsFromContext,
  propsFromContext,
  type ApprovalPageIdentity,
  type MembersContextProps,
  type KeymatProps,
} from './config';
export {
  DeletionWorkflow,
  type DeletionWorkflowProps,
  type ExecutionReadAction,
  type WorkflowFunctions,
} from '../workflows/deletion-workflow';
export { CHANGE_WINDOW_TASK, TASK_STATES, WAIT_STATE, type TaskState } from '../workflows/states';
export { AcknowledgingRole } from '../workflows/nag';
// What the stacks throw for a refused setting: an app may print its message alone, as infra/app.ts does.
export { ConfigurationError, type Refusal } from '../core/errors';
