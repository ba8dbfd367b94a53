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
  MissingAuthenticationTokenException: 400,
  UnknownOperationException: 400,
  SerializationException: 400,
} as const;

export type KmsErrorName = keyof typeof STATUS_BY_ERROR;
export const KMS_ERROR_NAMES = Object.keys(STATUS_BY_ERROR) as [KmsErrorName, ...KmsErrorName[]];

/** An error the emulator answers with, exactly as KMS would put it on the wire. */
export class KmsError extends Error {
  readonly status: number;
  constructor(
    readonly type: KmsErrorName,
    message: string,
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
