import { readFileSync } from 'node:fs';
import { uniformFloat64 } from 'pure-rand/distribution/uniformFloat64';
import { xoroshiro128plus } from 'pure-rand/generator/xoroshiro128plus';
import * as z from '../../core/schema';
import { KMS_ERROR_NAMES, KmsError } from './errors';
import { PINNABLE_KEY_STATES } from './model';

/**
 * Fault injection for the local KMS, read from a JSON file (`--faults FILE`). The format is documented in
 * docs/local-stack.md ("Fault injection"); this schema is its single definition.
 */
const operation = z.string().check(z.regex(/^(\*|[A-Z][A-Za-z]+)$/, 'an operation name such as "DescribeKey", or "*"'));

const errorRule = z.lazy(() =>
  z
    .strictObject({
      kind: z.literal('error'),
      operation,
      error: z.enum(KMS_ERROR_NAMES),
      message: z.optional(z.string()),
      /** Fail the first `count` matching calls. */
      count: z.optional(z.number().check(z.int(), z.positive())),
      /** Fail each matching call with this probability (seeded by the file's `seed`). */
      probability: z.optional(z.number().check(z.gt(0), z.lte(1))),
    })
    .check(
      z.refine((r) => (r.count === undefined) !== (r.probability === undefined), {
        message: 'an error rule needs exactly one of "count" or "probability"',
      }),
    ),
);

const latencyRule = z.lazy(() =>
  z.strictObject({ kind: z.literal('latency'), operation, ms: z.number().check(z.int(), z.nonnegative()) }),
);

const staleReadsRule = z.lazy(() =>
  z.strictObject({
    kind: z.literal('staleReads'),
    /** After each change to a key, this many reads of it (DescribeKey, ListKeyRotations, …) see the old key. */
    calls: z.number().check(z.int(), z.positive()),
  }),
);

const applyThenFailRule = z.lazy(() =>
  z.strictObject({
    kind: z.literal('applyThenFail'),
    operation: z.literal('DeleteImportedKeyMaterial'),
    error: z._default(z.enum(['KMSInternalException', 'DependencyTimeoutException']), 'KMSInternalException'),
    count: z.number().check(z.int(), z.positive()),
  }),
);

const quotaRule = z.lazy(() =>
  z.strictObject({ kind: z.literal('quota'), operation, perSecond: z.number().check(z.positive()) }),
);

const keyStateRule = z.lazy(() =>
  z.strictObject({
    kind: z.literal('keyState'),
    keyId: z.string().check(z.minLength(1)),
    state: z.enum(PINNABLE_KEY_STATES),
  }),
);

/**
 * The other reading of what a deletion does to the material's expiry: keep `ExpirationModel` and `ValidTo` on the key
 * and on the deleted material's ListKeyRotations entry. AWS drops them (the emulator's default); the workflow must
 * hold under both.
 */
const keepExpiryOnDeletionRule = z.lazy(() => z.strictObject({ kind: z.literal('keepExpiryOnDeletion') }));

// The union reads its options' kinds only when it first parses, so the rules above stay unbuilt until then.
const rule = z.discriminatedUnion('kind', [
  errorRule,
  keepExpiryOnDeletionRule,
  latencyRule,
  staleReadsRule,
  applyThenFailRule,
  quotaRule,
  keyStateRule,
]);

export const faultFileSchema = z.lazy(() =>
  z.strictObject({ seed: z._default(z.number().check(z.int()), 1), rules: z.array(rule) }),
);

export type FaultFile = z.input<typeof faultFileSchema>;
type Rule = z.output<typeof rule>;

const matches = (ruleOperation: string, op: string): boolean => ruleOperation === '*' || ruleOperation === op;

/** Reads and checks a fault file; the error names the file and the offending field. */
export function loadFaultFile(path: string): FaultFile {
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(path, 'utf8'));
  } catch (err) {
    throw new Error(`cannot read fault file ${path}: ${(err as Error).message}`, { cause: err });
  }
  const parsed = faultFileSchema.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new Error(`fault file ${path}: ${issue?.path.join('.') || '(root)'}: ${issue?.message}`);
  }
  return parsed.data;
}

/** What the injector decided for one call before it runs. */
export interface FaultDecision {
  latencyMs: number;
  /** Answer with this error instead of running the call. */
  error?: KmsError;
  /** Run the call, keep its effect, then answer with this error (the ambiguous case). */
  errorAfterApply?: KmsError;
}

/** Applies a fault file's rules to calls, keeping the counters and the seeded generator between calls. */
export class FaultInjector {
  private readonly rules: Rule[];
  private readonly used = new Map<Rule, number>();
  private readonly buckets = new Map<string, { tokens: number; at: number }>();
  private readonly rng: ReturnType<typeof xoroshiro128plus>;

  constructor(file: FaultFile = { rules: [] }) {
    const parsed = faultFileSchema.parse(file);
    this.rules = parsed.rules;
    this.rng = xoroshiro128plus(parsed.seed);
  }

  get staleReadCalls(): number {
    return this.rules.reduce((n, r) => (r.kind === 'staleReads' ? Math.max(n, r.calls) : n), 0);
  }

  /** Whether a deletion keeps the material's ExpirationModel and ValidTo (a `keepExpiryOnDeletion` rule). */
  get keepsExpiryOnDeletion(): boolean {
    return this.rules.some((r) => r.kind === 'keepExpiryOnDeletion');
  }

  pinnedState(keyId: string, keyArn: string): (typeof PINNABLE_KEY_STATES)[number] | undefined {
    for (const r of this.rules) if (r.kind === 'keyState' && (r.keyId === keyId || r.keyId === keyArn)) return r.state;
    return undefined;
  }

  /** Decides for one call of `op` made in `account` and `region` (a quota holds per account and Region, as KMS's). */
  decide(op: string, account: string, region: string, now: number): FaultDecision {
    const decision: FaultDecision = { latencyMs: 0 };
    for (const r of this.rules) {
      if (r.kind === 'latency' && matches(r.operation, op)) decision.latencyMs += r.ms;
    }
    for (const r of this.rules) {
      if (
        r.kind === 'quota' &&
        matches(r.operation, op) &&
        !this.take(`${account}:${region}:${op}`, r.perSecond, now)
      ) {
        decision.error = new KmsError('ThrottlingException', `Rate exceeded for ${op}`);
        return decision;
      }
    }
    for (const r of this.rules) {
      if (r.kind === 'error' && matches(r.operation, op) && this.fires(r)) {
        decision.error = new KmsError(r.error, r.message ?? `Injected ${r.error} for ${op}`);
        return decision;
      }
      if (r.kind === 'applyThenFail' && r.operation === op && this.countDown(r, r.count)) {
        decision.errorAfterApply = new KmsError(r.error, `Injected ${r.error} after applying ${op}`);
        return decision;
      }
    }
    return decision;
  }

  private fires(r: Extract<Rule, { kind: 'error' }>): boolean {
    if (r.count !== undefined) return this.countDown(r, r.count);
    return uniformFloat64(this.rng) < (r.probability ?? 0);
  }

  private countDown(r: Rule, count: number): boolean {
    const n = this.used.get(r) ?? 0;
    if (n >= count) return false;
    this.used.set(r, n + 1);
    return true;
  }

  /** A token bucket per account, Region and operation, refilled at the quota's rate with one second of burst. */
  private take(bucketKey: string, perSecond: number, now: number): boolean {
    const b = this.buckets.get(bucketKey) ?? { tokens: perSecond, at: now };
    b.tokens = Math.min(perSecond, b.tokens + ((now - b.at) / 1000) * perSecond);
    b.at = now;
    this.buckets.set(bucketKey, b);
    if (b.tokens < 1) return false;
    b.tokens -= 1;
    return true;
  }
}
