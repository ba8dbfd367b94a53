/**
 * The one list of error names a keymat task can end with. Step Functions matches Retry and Catch on these names,
 * so the workflow imports the same lists; nothing else spells them.
 */

/** Transient KMS errors: retried by the state machine with backoff and jitter. */
export const RETRYABLE_KMS_ERRORS = [
  'KMSInternalException',
  'DependencyTimeoutException',
  'ThrottlingException',
] as const;

/**
 * A request that failed on the network (connection reset, timeout) before any answer: transient, and for
 * DeleteImportedKeyMaterial ambiguous (it may have been applied), which DeleteMaterial's retry recognises.
 */
export const NETWORK_ERROR = 'NetworkError';

/** Transient SNS errors (announcement and approval messages), retried like the KMS ones. */
export const RETRYABLE_SNS_ERRORS = ['InternalErrorException', 'ThrottledException'] as const;

/**
 * An EventBridge PutEvents call that answered but did not take every event (its entries carry an ErrorCode such as
 * `InternalFailure` or `ThrottlingException`): transient, retried like a 500.
 */
export const EVENT_NOT_PUBLISHED = 'EventNotPublished';

/**
 * Transient errors of the other services a task calls: EventBridge (`InternalException`), Systems Manager's
 * GetCalendarState (`InternalServerError`), Lambda's Invoke of the change-ticket check and Organizations
 * (`ServiceException`, `TooManyRequestsException`), STS AssumeRole into a member account (`Throttling`), and events
 * PutEvents did not take.
 */
export const RETRYABLE_SERVICE_ERRORS = [
  'InternalException',
  'InternalServerError',
  'ServiceException',
  'TooManyRequestsException',
  'Throttling',
  EVENT_NOT_PUBLISHED,
] as const;

/**
 * Lambda service errors (https://docs.aws.amazon.com/step-functions/latest/dg/bp-lambda-serviceexception.html);
 * `Lambda.Unknown` covers a function timeout or out-of-memory, after which a retry is safe because every task is
 * idempotent (DeleteMaterial recognises its own earlier deletion).
 */
export const LAMBDA_SERVICE_ERRORS = [
  'Lambda.ServiceException',
  'Lambda.AWSLambdaException',
  'Lambda.SdkClientException',
  'Lambda.ClientExecutionTimeoutException',
  'Lambda.TooManyRequestsException',
  'Lambda.Unknown',
] as const;

/** Errors that end a change: bad input, a business rule, a decision. Never retried. */
export const TERMINAL_ERRORS = [
  'InvalidInput',
  'AliasNotAllowed',
  'KeyNotInThisAccountOrRegion',
  /** A key of an account outside the organisation or its configured accounts and OUs, or of an unconfigured Region. */
  'KeyOutsideOrganisation',
  /** STS refused the member role in the key's account (missing, or not trusting this task's role). */
  'MemberRoleUnavailable',
  'OriginNotExternal',
  'KeyNotCustomerManaged',
  'KeyMaterialNotFound',
  'KeyPendingDeletion',
  'KeyStateNotDeletable',
  'ApprovalRejected',
  'ApprovalTimedOut',
  'ApprovalInvalid',
  'PlanDrifted',
  'VerificationFailed',
  'StartNotAttested',
  'ChangeTicketNotApproved',
  'ChangeWindowClosed',
  'RecoveryNotProven',
  /** A restore of a material that is not deleted. */
  'NothingToRestore',
  /** A restore into a key whose state takes no import (PendingDeletion, a transitional state). */
  'KeyStateNotRestorable',
] as const;

/** Thrown by VerifyPendingImport while the expected state has not arrived yet; retried within a bound. */
export const VERIFICATION_PENDING = 'VerificationPending';

export type TerminalErrorName = (typeof TERMINAL_ERRORS)[number];
export type KeymatErrorName =
  TerminalErrorName | typeof VERIFICATION_PENDING | typeof NETWORK_ERROR | typeof EVENT_NOT_PUBLISHED;

/**
 * An error a task ends with. `name` is what Step Functions sees as the error; it is set from the list above, not from
 * the class name, because bundling minifies class names. `code` is the same name, typed, for callers that branch on it.
 */
export class KeymatError extends Error {
  override readonly name: KeymatErrorName;
  readonly code: KeymatErrorName;
  constructor(name: KeymatErrorName, message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = name;
    this.code = name;
  }
}

/**
 * Why the change client refused an operation on a change (not a task error: no state machine sees these). The CLI
 * prints the message as it is; the approval page picks its HTTP status from the code.
 */
export const CHANGE_ERRORS = [
  /** No execution of that name or ARN. */
  'ExecutionNotFound',
  /** The change id already names an execution with other input. */
  'ChangeIdInUse',
  /** The execution has ended, or is not waiting for an approval. */
  'NothingToDecide',
  /** The task token was answered or timed out in the meantime. */
  'AlreadyDecided',
  /** The approval rules do not let this identity approve (`refusal` in approvals.ts says why). */
  'ApprovalRefused',
  /** Only the requester and the allowed approvers may reject a change. */
  'RejectionRefused',
  /** A custodian's copy is not wrapped for the import parameters this change asked for (a replayed token). */
  'ProofRefused',
] as const;

export type ChangeErrorName = (typeof CHANGE_ERRORS)[number];

/** A refusal of the change client, named from `CHANGE_ERRORS`. */
export class ChangeError extends Error {
  override readonly name: ChangeErrorName;
  readonly code: ChangeErrorName;
  constructor(code: ChangeErrorName, message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = code;
    this.code = code;
  }
}

/**
 * A deployment setting refused: a prop of keymat's stacks and constructs, or the CDK context value it was read from.
 * It is the deployer's to fix, not a bug, so the CDK app prints its message alone, without a stack trace.
 */
export class ConfigurationError extends Error {
  override readonly name = 'ConfigurationError';
  /**
   * @param message names the setting and the value (or, for a combination refused, each setting)
   * @param refused the one setting refused, when there is one, so that a caller that knows the setting by another
   *   name (the CDK context adapter) can say the same in its own terms
   */
  constructor(
    message: string,
    readonly refused?: Refusal,
    options?: ErrorOptions,
  ) {
    super(message, options);
  }
}

/** One setting refused: what a {@link ConfigurationError} says, in parts. */
export interface Refusal {
  /** Who refused it, e.g. `KeymatStack`. */
  readonly owner: string;
  /** The setting's path, e.g. `quorum`, `members.regions[1]`. */
  readonly setting: string;
  /** What follows the setting in the message, its separator included: ` must be …`, `: …`. */
  readonly problem: string;
  /** The value refused: the setting's own, or the element of it that was refused. */
  readonly value: unknown;
}

/**
 * The name of an error (the SDK's exception name, a keymat error's name), or undefined when `err` is not an error.
 * The one place that reads error names: everything else asks `hasErrorName`.
 */
export function errorName(err: unknown): string | undefined {
  if (typeof err !== 'object' || err === null) return undefined;
  const name = (err as { name?: unknown }).name;
  return typeof name === 'string' ? name : undefined;
}

/**
 * The message of an error, or the thrown value as text. Read by its property, as `errorName` reads the name: an error
 * made in another realm (a vm context) is not an `instanceof Error` here.
 */
export function errorMessage(err: unknown): string {
  const message = typeof err === 'object' && err !== null ? (err as { message?: unknown }).message : undefined;
  return typeof message === 'string' ? message : String(err);
}

/** Whether `err` is an error of one of these names, e.g. `hasErrorName(err, 'ExecutionDoesNotExist')`. */
export function hasErrorName(err: unknown, ...names: readonly string[]): boolean {
  const name = errorName(err);
  return name !== undefined && names.includes(name);
}

/**
 * A value for an error message: JSON, with invisible and direction-changing characters escaped so the message
 * reads as what was received.
 */
export const shown = (value: unknown): string =>
  (JSON.stringify(value) ?? 'nothing').replace(
    /[\u007f-\u009f\u200b-\u200f\u202a-\u202e\u2060-\u2064\u2066-\u2069\ufeff]/gu,
    (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`,
  );

/** Bad input: names the field and the value received. */
export const invalidInput = (field: string, value: unknown, problem: string): KeymatError =>
  new KeymatError('InvalidInput', `${field} ${problem}; got ${shown(value)}`);
