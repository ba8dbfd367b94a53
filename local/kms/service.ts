import { cryptoOperations, macOperations } from './crypto';
import { KmsError } from './errors';
import type { FaultInjector } from './faults';
import { keyOperations } from './key-operations';
import { Keys } from './keys';
import { MaterialLifecycle } from './materials';
import type { KmsState } from './model';
import type { CallContext, CallRecord, Json, OperationTable } from './wire';

/** Operations that change state: the server persists after each of them. */
export const MUTATING_OPERATIONS: ReadonlySet<string> = new Set([
  'CreateKey',
  'CreateAlias',
  'GetParametersForImport',
  'ImportKeyMaterial',
  'DeleteImportedKeyMaterial',
  'RotateKeyOnDemand',
  'ScheduleKeyDeletion',
  'CancelKeyDeletion',
  'EnableKey',
  'DisableKey',
  'TagResource',
  'PutKeyPolicy',
  'ReplicateKey',
  'Encrypt',
  'Decrypt',
  // GetKeyLastUsage reports MAC operations too.
  'GenerateMac',
  'VerifyMac',
]);

/**
 * KMS's behaviour for imported key material, over a {@link KmsState}: one operation per wire name, each taking the
 * request's JSON members and returning the response's; errors are thrown as {@link KmsError}. The operations live by
 * concern: keys (key-operations.ts over keys.ts), material lifecycle (materials.ts), and Encrypt/Decrypt and
 * GenerateMac/VerifyMac (crypto.ts).
 */
export class KmsService {
  private readonly keys: Keys;
  private readonly materials: MaterialLifecycle;
  private readonly operations: OperationTable;

  constructor(
    readonly state: KmsState,
    faults: FaultInjector,
  ) {
    this.keys = new Keys(state, faults);
    this.materials = new MaterialLifecycle(this.keys);
    this.operations = {
      ...keyOperations(this.keys),
      ...this.materials.operations(),
      ...cryptoOperations(this.keys),
      ...macOperations(this.keys),
    };
  }

  /** The fault plan that pins key states and asks for stale reads. */
  get faults(): FaultInjector {
    return this.keys.faults;
  }

  set faults(faults: FaultInjector) {
    this.keys.faults = faults;
  }

  /** Runs one operation. `record` receives the key the call was about, for the request log. */
  async call(operation: string, body: Json, ctx: CallContext, record: CallRecord): Promise<Json> {
    this.materials.expire(ctx.now);
    const run = Object.hasOwn(this.operations, operation) ? this.operations[operation] : undefined;
    if (!run) throw new KmsError('UnknownOperationException', `Operation ${operation} is not supported`);
    return run(body, ctx, record);
  }

  /** Called once the state was put back as last committed: expiry the undone change had applied is swept again. */
  rewound(): void {
    this.materials.rewound();
  }

  /** True once after a call expired material, so the caller persists a change no mutating call made. */
  takeUnsavedExpiry(): boolean {
    return this.materials.takeUnsavedExpiry();
  }
}
