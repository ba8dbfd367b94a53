import { setTimeout as sleep } from 'node:timers/promises';
import {
  jsonAnswer,
  jsonError,
  parseJsonBody,
  type Answer,
  type IncomingRequest,
  type LocalService,
} from '../services/local-service';
import type { StateStore } from '../state/store';
import { KmsError } from './errors';
import type { FaultInjector } from './faults';
import { accessDenied } from './keys';
import { keyArn } from './model';
import { MUTATING_OPERATIONS, type KmsService } from './service';
import type { CallContext, CallRecord, Json } from './wire';

const TARGET_PREFIX = 'TrentService.';

/**
 * KMS's JSON 1.1 protocol in front of the emulator: applies the fault plan, runs the operation, commits the change to
 * the state database before answering, and answers every failure as a KMS error (a bug in the emulator as
 * KMSInternalException). Operations run one at a time, so no call sees another's change before it is committed; a
 * change whose commit fails is undone in memory and answered as KMSInternalException.
 */
export class LocalKms implements LocalService {
  /** Settles when the operation before is done: operations queue on it. */
  private queue: Promise<unknown> = Promise.resolve();

  constructor(
    readonly service: KmsService,
    private readonly store: StateStore,
    private faults: FaultInjector,
  ) {}

  /** Commits what changed in the KMS state (a change made outside a request, such as at start). */
  commit(): void {
    try {
      this.store.commitKms(this.service.state);
    } catch (err) {
      this.revert();
      throw err;
    }
  }

  /** Puts the state back as last committed. */
  private revert(): void {
    if (this.store.revertKms(this.service.state)) this.service.rewound();
  }

  /** Replaces the fault plan; counters and the seeded generator start over. */
  setFaults(faults: FaultInjector): void {
    this.faults = faults;
    this.service.faults = faults;
  }

  matches(request: IncomingRequest): boolean {
    return request.target?.startsWith(TARGET_PREFIX) ?? false;
  }

  async handle(request: IncomingRequest): Promise<Answer> {
    const operation = (request.target ?? '').slice(TARGET_PREFIX.length);
    const record: CallRecord = {};
    let answer: Answer;
    let failure: KmsError | undefined;
    try {
      const { caller } = request;
      const decision = this.faults.decide(operation, caller.account, request.region, Date.now());
      if (decision.latencyMs > 0) await sleep(decision.latencyMs);
      if (decision.error) throw decision.error;
      const body = parseJsonBody(request.body);
      if (!body) throw new KmsError('SerializationException', 'The request body is not valid JSON');
      const ctx: CallContext = {
        operation,
        region: request.region,
        account: caller.account,
        caller: caller.accessKeyId,
        callerArn: caller.arn,
        requestId: request.requestId,
        now: Date.now(),
      };
      // A role session may make only the calls its role's permissions allow (IAM's identity-based policy).
      if (caller.session && !caller.session.kmsOperations.includes(operation)) {
        throw accessDenied(ctx, resourceOf(body, ctx), 'identity-based');
      }
      const result = await this.serialized(() => this.apply(operation, body, ctx, record));
      if (decision.errorAfterApply) throw decision.errorAfterApply;
      answer = jsonAnswer('1.1', request.requestId, 200, result);
    } catch (err) {
      failure =
        err instanceof KmsError
          ? err
          : new KmsError('KMSInternalException', `Internal error: ${(err as Error).message}`);
      answer = kmsError(request.requestId, failure);
    }
    const keyMaterialId = record.keyMaterialId ?? memberOf(request.body, 'KeyMaterialId');
    answer.log = {
      service: 'kms',
      operation,
      keyId: record.keyArn ?? memberOf(request.body, 'KeyId'),
      ...(keyMaterialId && { keyMaterialId }),
      ...(failure && { error: failure.type }),
    };
    return answer;
  }

  /** Runs `run` once every operation queued before it is done. */
  private serialized<T>(run: () => Promise<T>): Promise<T> {
    const result = this.queue.then(run);
    this.queue = result.catch(() => undefined);
    return result;
  }

  /** Runs the operation and commits its change; on any failure the in-memory state is the committed one. */
  private async apply(operation: string, body: Json, ctx: CallContext, record: CallRecord): Promise<Json> {
    let result: Json;
    try {
      result = await this.service.call(operation, body, ctx, record);
      if (MUTATING_OPERATIONS.has(operation) || this.service.takeUnsavedExpiry()) this.commit();
    } catch (err) {
      // A refused operation may have changed the state before it failed, a failed commit has: undo it all.
      if (MUTATING_OPERATIONS.has(operation) || this.service.takeUnsavedExpiry()) this.revert();
      throw err;
    }
    return result;
  }
}

/** A KMS error answer; where KMS sends no message (InvalidCiphertextException) the body holds the `__type` alone. */
function kmsError(requestId: string, failure: KmsError): Answer {
  if (failure.message) return jsonError('1.1', requestId, failure);
  const answer = jsonAnswer('1.1', requestId, failure.status, { __type: failure.type });
  answer.headers['x-amzn-errortype'] = failure.type;
  return answer;
}

/** The resource a call names, as IAM evaluates it: the key's ARN (a key id made one in the caller's account), else `*`. */
function resourceOf(body: Json, ctx: CallContext): string {
  const keyId = body.KeyId;
  if (typeof keyId !== 'string' || keyId === '') return '*';
  return keyId.startsWith('arn:') || keyId.startsWith('alias/') ? keyId : keyArn(ctx.region, ctx.account, keyId);
}

/** A request's KeyId or KeyMaterialId as sent, for the log when the emulator did not resolve it. Nothing else is read. */
function memberOf(body: string, member: 'KeyId' | 'KeyMaterialId'): string | undefined {
  const value = parseJsonBody(body)?.[member];
  return typeof value === 'string' ? value.slice(0, 2048) : undefined;
}
