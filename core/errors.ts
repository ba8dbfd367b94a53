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
] as const;

/** Thrown by VerifyPendingImport while the expected state has not arrived yet; retried within a bound. */
export const VERIFICATION_PENDING = 'VerificationPending';

export type TerminalErrorName = (typeof TERMINAL_ERRORS)[number];
export type KeymatErrorName = TerminalErrorName | typeof VERIFICATION_PENDING | typeof NETWORK_ERROR;

/**
 * An error a task ends with. `name` is what Step Functions sees as the error; it is set from the list above, not from
 * the class name, because bundling minifies class names.
 */
export class KeymatError extends Error {
  override readonly name: KeymatErrorName;
  constructor(name: KeymatErrorName, message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = name;
  }
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
