import { setTimeout as sleep } from 'node:timers/promises';
import {
  jsonAnswer,
  jsonError,
  parseJsonBody,
  type Answer,
  type IncomingRequest,
  type LocalService,
} from '../local-service';
import type { StateFile } from '../state-file';
import { KmsError } from './errors';
import type { FaultInjector } from './faults';
import type { KmsState } from './model';
import { MUTATING_OPERATIONS, type KmsService } from './service';
import type { CallRecord } from './wire';

const TARGET_PREFIX = 'TrentService.';

/**
 * KMS's JSON 1.1 protocol in front of the emulator: applies the fault plan, runs the operation, persists the state
 * after a change, and answers every failure as a KMS error (a bug in the emulator as KMSInternalException).
 */
export class LocalKms implements LocalService {
  constructor(
    readonly service: KmsService,
    private readonly file: StateFile<KmsState>,
    private faults: FaultInjector,
  ) {}

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
      const decision = this.faults.decide(operation, request.region, Date.now());
      if (decision.latencyMs > 0) await sleep(decision.latencyMs);
      if (decision.error) throw decision.error;
      const body = parseJsonBody(request.body);
      if (!body) throw new KmsError('SerializationException', 'The request body is not valid JSON');
      const ctx = {
        region: request.region,
        caller: request.accessKeyId,
        requestId: request.requestId,
        now: Date.now(),
      };
      const result = await this.service.call(operation, body, ctx, record);
      if (MUTATING_OPERATIONS.has(operation) || this.service.takeUnsavedExpiry()) this.file.save(this.service.state);
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
}

/** A KMS error answer; where KMS sends no message (InvalidCiphertextException) the body holds the `__type` alone. */
function kmsError(requestId: string, failure: KmsError): Answer {
  if (failure.message) return jsonError('1.1', requestId, failure);
  const answer = jsonAnswer('1.1', requestId, failure.status, { __type: failure.type });
  answer.headers['x-amzn-errortype'] = failure.type;
  return answer;
}

/** A request's KeyId or KeyMaterialId as sent, for the log when the emulator did not resolve it. Nothing else is read. */
function memberOf(body: string, member: 'KeyId' | 'KeyMaterialId'): string | undefined {
  const value = parseJsonBody(body)?.[member];
  return typeof value === 'string' ? value.slice(0, 2048) : undefined;
}
