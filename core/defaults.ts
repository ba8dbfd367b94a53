/** keymat's defaults, in one place: infra, the handlers, the CLI and the local stack read them from here. */

/** Seconds WaitForPropagation waits when the input gives no `waitSeconds`. */
export const DEFAULT_WAIT_SECONDS = 30;

/** The largest `waitSeconds` an input may ask for. */
export const MAX_WAIT_SECONDS = 3600;

/** A use of the key within this many days makes the plan warn the approver. */
export const DEFAULT_RECENT_USE_DAYS = 30;

/** How long an approval round waits for a decision before the change ends ApprovalTimedOut. */
export const DEFAULT_APPROVAL_TIMEOUT_SECONDS = 24 * 3600;

/** The claim of the signed-in user's token that names them, when the approval page runs in identity mode. */
export const DEFAULT_APPROVAL_PAGE_IDENTITY_CLAIM = 'email';

/** The EventBridge bus change events go to when none is configured: the account's default bus. */
export const DEFAULT_EVENT_BUS = 'default';

/**
 * How long an approved change may wait for its change calendars to open before it ends ChangeWindowClosed: a week
 * covers a weekend freeze and a holiday.
 */
export const DEFAULT_WINDOW_WAIT_SECONDS = 7 * 24 * 3600;

/** The longest a change may wait for its window (Step Functions Standard executions last at most a year). */
export const MAX_WINDOW_WAIT_SECONDS = 180 * 24 * 3600;

/** Distinct approvers a change needs when none is configured. */
export const DEFAULT_QUORUM = 1;

/** Distinct approvers a restore needs when the deployment sets none: bringing a material back destroys nothing. */
export const DEFAULT_RESTORE_QUORUM = 1;

/** The task functions' log level when the local stack runs them: their logs are meant for CloudWatch. */
export const DEFAULT_LOCAL_LOG_LEVEL = 'SILENT';

/** Attempts VerifyPendingImport makes before a change ends VerificationFailed. */
export const DEFAULT_VERIFY_MAX_ATTEMPTS = 8;

/** Seconds each Lambda task state may take before Step Functions fails it with States.Timeout (then retries it). */
export const DEFAULT_TASK_TIMEOUT_SECONDS = 60;

/** Days the functions' and the workflow's logs are kept. */
export const DEFAULT_LOG_RETENTION_DAYS = 365;

/** The expiry scan flags materials whose ValidTo falls within this many days. */
export const DEFAULT_SCAN_EXPIRES_WITHIN_DAYS = 30;

/**
 * Attempts the expiry scan's KMS client makes per call (the scheduled function's and `keymat scan`'s): throttling is
 * tried again with backoff, and the scan paces itself below the quotas as well.
 */
export const SCAN_KMS_MAX_ATTEMPTS = 8;

/** The key tag holding the day (YYYY-MM-DD) from which the scan retires a key's current material. */
export const DEFAULT_SCAN_RETIRE_TAG = 'keymat:retire-on';

/**
 * The expiry scan's default pace: well below KMS's default request quotas, leaving room for other callers (the scan's
 * limits schema, in core/scan-policy.ts, checks it wherever it is used).
 */
export const DEFAULT_SCAN_LIMITS = {
  maxChanges: 10,
  // Enough calls in flight that the pace, not the round trip, limits the scan.
  concurrency: 32,
  rates: { ListKeys: 50, DescribeKey: 1000, ListKeyRotations: 50, ListResourceTags: 50 },
};

/** How strongly a deployment asks for the recovery proof (docs/recovery.md). */
export const DEFAULT_RECOVERY_PROOF = 'offered';

/** How long a change waits for a custodian's recovery proof: 4 hours. */
export const DEFAULT_PROOF_TIMEOUT_SECONDS = 4 * 3600;

/**
 * How far ahead ImportKeyMaterial takes a ValidTo, and so a restore's `validTo`.
 * @see https://docs.aws.amazon.com/kms/latest/APIReference/API_ImportKeyMaterial.html
 */
export const KMS_MAX_VALID_TO_DAYS = 365;

/** The longest a change may wait for a proof: less than the 24 hours KMS keeps an import token valid. */
export const MAX_PROOF_TIMEOUT_SECONDS = 23 * 3600;

/**
 * The fleet scan's children at once: its Distributed Map's MaxConcurrency.
 * @see https://docs.aws.amazon.com/step-functions/latest/dg/state-map-distributed.html
 */
export const DEFAULT_FLEET_MAX_CONCURRENCY = 100;

/**
 * The share of the fleet scan's children that may fail without failing the run: all of them, so that a broken
 * account (its role missing, its key policy shutting the role out) never stops the others, and every failure is
 * reported in the summary.
 */
export const DEFAULT_FLEET_TOLERATED_FAILURE_PERCENTAGE = 100;
