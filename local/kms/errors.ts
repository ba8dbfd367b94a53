/**
 * Errors as real KMS sends them: the `__type` name, the HTTP status and a message.
 * Statuses follow what the service answers on the wire, which differs from its API model for some of them
 * (NotFoundException is 400, not 404).
 */
const STATUS_BY_ERROR = {
  KMSInternalException: 500,
  DependencyTimeoutException: 500,
  ThrottlingException: 400,
  NotFoundException: 400,
  KMSInvalidStateException: 400,
  UnsupportedOperationException: 400,
  InvalidArnException: 400,
  ValidationException: 400,
  AccessDeniedException: 400,
  AlreadyExistsException: 400,
  DisabledException: 400,
  IncorrectKeyMaterialException: 400,
  IncorrectKeyException: 400,
  InvalidCiphertextException: 400,
  InvalidKeyUsageException: 400,
  KMSInvalidMacException: 400,
  InvalidImportTokenException: 400,
  ExpiredImportTokenException: 400,
  InvalidMarkerException: 400,
  LimitExceededException: 400,
  TagException: 400,
  MissingAuthenticationTokenException: 400,
  UnknownOperationException: 400,
  SerializationException: 400,
  MalformedPolicyDocumentException: 400,
} as const;

export type KmsErrorName = keyof typeof STATUS_BY_ERROR;
export const KMS_ERROR_NAMES = Object.keys(STATUS_BY_ERROR) as [KmsErrorName, ...KmsErrorName[]];

/** An error the emulator answers with, exactly as KMS would put it on the wire. */
export class KmsError extends Error {
  readonly status: number;
  /**
   * @param message KMS's text; empty where KMS sends none (its body is then `{"__type"}` alone).
   */
  constructor(
    readonly type: KmsErrorName,
    message = '',
  ) {
    super(message);
    this.name = type;
    this.status = STATUS_BY_ERROR[type];
  }
}

/** KMS's ValidationException for one request member, worded as KMS words it. */
export const validation = (member: string, value: unknown, constraint: string): KmsError =>
  new KmsError(
    'ValidationException',
    `1 validation error detected: Value ${value === undefined ? 'null' : `'${String(value)}'`} at '${member}' failed to satisfy constraint: ${constraint}`,
  );

/**
 * KMS's constraint texts for a length or a number out of its bounds: one side at a time, the side that failed
 * (`Member must have length less than or equal to 128`), as the service words it.
 */
export const lengthConstraint = (length: number, min: number, max: number): string =>
  length < min
    ? `Member must have length greater than or equal to ${min}`
    : `Member must have length less than or equal to ${max}`;

export const valueConstraint = (value: number, min: number, max: number): string =>
  value < min
    ? `Member must have value greater than or equal to ${min}`
    : `Member must have value less than or equal to ${max}`;

/** How KMS names a key state in its KMSInvalidStateException texts ("… is pending import."). */
const STATE_WORDS: Record<string, string> = {
  Creating: 'creating',
  Enabled: 'enabled',
  Disabled: 'disabled',
  PendingDeletion: 'pending deletion',
  PendingImport: 'pending import',
  PendingReplicaDeletion: 'pending replica deletion',
  Unavailable: 'unavailable',
  Updating: 'updating',
};

/** KMS's KMSInvalidStateException for a key in a state the operation does not accept. */
export const invalidState = (keyArn: string, state: string): KmsError =>
  new KmsError('KMSInvalidStateException', `${keyArn} is ${STATE_WORDS[state] ?? state}.`);
