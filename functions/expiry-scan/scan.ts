import type { KeyMetadata, RotationsListEntry } from '@aws-sdk/client-kms';
import { allPages, type KmsCall } from '../../core/aws-api';
import { hasErrorName } from '../../core/errors';
import { Pacer } from '../../core/pacer';
import type { ScanLimits, ScanPolicy } from '../../core/scan-policy';

export type Rule = 'retire-tag' | 'expires-within' | 'imported-before';

export interface Violation {
  keyArn: string;
  keyMaterialId: string;
  rule: Rule;
  detail: string;
}

export interface ScanSummary {
  scannedAt: string;
  dryRun: boolean;
  keysListed: number;
  externalKeys: number;
  /** Keys DescribeKey was denied on: outside the functions' key scope. */
  outOfScope: number;
  violations: Violation[];
  started: (Violation & { changeId: string })[];
  alreadyStarted: (Violation & { changeId: string })[];
  skipped: { keyArn: string; keyMaterialId?: string; reason: string }[];
}

export interface ScanDeps {
  kms: KmsCall;
  /**
   * Starts the change for a violation; 'EXISTS' when today's change for it was already started. The starter names
   * the requester: the scan itself, or the person a CLI scan runs as.
   */
  start: (changeId: string, change: ScanChange) => Promise<'STARTED' | 'EXISTS'>;
  now: Date;
}

/** A change the scan asks for, before a requester is named. */
export interface ScanChange {
  keyId: string;
  keyMaterialId: string;
  changeId: string;
  reason: string;
}

/** The requester of the changes the scheduled scan starts (attested as the scan's own, channel `scan`). */
export const SCAN_REQUESTER = 'keymat-expiry-scan';
const DAY_MS = 86_400_000;
const NOT_DELETABLE = new Set(['PendingDeletion', 'PendingReplicaDeletion', 'Creating', 'Updating', 'Unavailable']);

/** One change per material per day: the scan's change id, and so its execution name, is deterministic. */
export const scanChangeId = (now: Date, keyId: string, keyMaterialId: string): string =>
  `EXP-${now.toISOString().slice(0, 10).replace(/-/g, '')}-${keyId.replace(/^mrk-/, '').slice(0, 8)}-${keyMaterialId.slice(0, 12)}`;

/**
 * Finds the customer-managed EXTERNAL keys of the account and evaluates each material against the policy; starts one
 * deletion change per violating material, at most `maxChanges` per run, with every KMS call paced to its rate.
 */
export async function scan(
  deps: ScanDeps,
  policy: ScanPolicy,
  limits: ScanLimits,
  dryRun: boolean,
): Promise<ScanSummary> {
  const pace = Object.fromEntries(Object.entries(limits.rates).map(([op, rate]) => [op, new Pacer(rate)])) as Record<
    keyof ScanLimits['rates'],
    Pacer
  >;
  const summary: ScanSummary = {
    scannedAt: deps.now.toISOString(),
    dryRun,
    keysListed: 0,
    externalKeys: 0,
    outOfScope: 0,
    violations: [],
    started: [],
    alreadyStarted: [],
    skipped: [],
  };

  // Each page waits for its pace when it is asked for: the end of the pages makes no call, and takes no slot.
  const keys: string[] = [];
  const pages = allPages(
    async (Marker) => {
      await pace.ListKeys.take();
      return deps.kms('ListKeys', { Limit: 1000, Marker });
    },
    (page) => page.NextMarker,
  );
  for await (const page of pages) keys.push(...(page.Keys ?? []).map((k) => k.KeyArn as string));
  summary.keysListed = keys.length;

  const evaluate = async (keyArn: string): Promise<void> => {
    await pace.DescribeKey.take();
    let meta: KeyMetadata;
    try {
      meta = (await deps.kms('DescribeKey', { KeyId: keyArn })).KeyMetadata as KeyMetadata;
    } catch (err) {
      if (hasErrorName(err, 'AccessDeniedException')) {
        summary.outOfScope += 1;
        return;
      }
      throw err;
    }
    if (meta.Origin !== 'EXTERNAL' || meta.KeyManager !== 'CUSTOMER') return;
    summary.externalKeys += 1;
    if (NOT_DELETABLE.has(meta.KeyState as string)) {
      summary.skipped.push({ keyArn, reason: `key is ${meta.KeyState}` });
      return;
    }
    const materials: RotationsListEntry[] = [];
    const rotations = allPages(
      async (Marker) => {
        await pace.ListKeyRotations.take();
        return deps.kms('ListKeyRotations', {
          KeyId: keyArn,
          IncludeKeyMaterial: 'ALL_KEY_MATERIAL',
          Limit: 1000,
          Marker,
        });
      },
      (page) => page.NextMarker,
    );
    for await (const page of rotations) materials.push(...(page.Rotations ?? []));
    let retireOn: string | undefined;
    if (policy.retireTag) {
      await pace.ListResourceTags.take();
      const tags = (await deps.kms('ListResourceTags', { KeyId: keyArn })).Tags ?? [];
      retireOn = tags.find((t) => t.TagKey === policy.retireTag)?.TagValue;
    }
    for (const m of materials) {
      if (m.ImportState !== 'IMPORTED') continue;
      const v = violation(meta, m, policy, retireOn, deps.now);
      if (v) summary.violations.push(v);
      else if (retireOn !== undefined && !/^\d{4}-\d{2}-\d{2}$/.test(retireOn) && m.KeyMaterialState === 'CURRENT') {
        summary.skipped.push({ keyArn, reason: `tag ${policy.retireTag} is '${retireOn}', not a date YYYY-MM-DD` });
      }
    }
  };

  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(limits.concurrency, keys.length) }, async () => {
      while (next < keys.length) await evaluate(keys[next++] as string);
    }),
  );

  // A stable order across runs, so that the per-run limit picks the same changes each time.
  summary.violations.sort((a, b) => a.keyArn.localeCompare(b.keyArn) || a.keyMaterialId.localeCompare(b.keyMaterialId));
  if (dryRun) return summary;
  for (const v of summary.violations) {
    const changeId = scanChangeId(deps.now, v.keyArn.split('/').pop() as string, v.keyMaterialId);
    if (summary.started.length >= limits.maxChanges) {
      summary.skipped.push({
        keyArn: v.keyArn,
        keyMaterialId: v.keyMaterialId,
        reason: `the limit of ${limits.maxChanges} changes per run was reached`,
      });
      continue;
    }
    const result = await deps.start(changeId, {
      keyId: v.keyArn,
      keyMaterialId: v.keyMaterialId,
      changeId,
      reason: `expiry policy (${v.rule}): ${v.detail}`,
    });
    (result === 'STARTED' ? summary.started : summary.alreadyStarted).push({ ...v, changeId });
  }
  return summary;
}

function violation(
  meta: KeyMetadata,
  m: RotationsListEntry,
  policy: ScanPolicy,
  retireOn: string | undefined,
  now: Date,
): Violation | undefined {
  const base = { keyArn: meta.Arn as string, keyMaterialId: m.KeyMaterialId as string };
  const today = now.toISOString().slice(0, 10);
  if (retireOn && /^\d{4}-\d{2}-\d{2}$/.test(retireOn) && retireOn <= today && m.KeyMaterialState === 'CURRENT') {
    return { ...base, rule: 'retire-tag', detail: `the key is tagged ${policy.retireTag}=${retireOn}` };
  }
  if (
    policy.expiresWithinDays !== undefined &&
    m.ValidTo &&
    m.ValidTo.getTime() <= now.getTime() + policy.expiresWithinDays * DAY_MS
  ) {
    return {
      ...base,
      rule: 'expires-within',
      detail: `the material expires ${m.ValidTo.toISOString()}, within ${policy.expiresWithinDays} days`,
    };
  }
  // KMS reports no import date: a rotated-in material dates from its rotation, the first one from the key's creation.
  const imported = m.RotationDate ?? meta.CreationDate;
  if (
    policy.importedMoreThanDays !== undefined &&
    imported &&
    imported.getTime() < now.getTime() - policy.importedMoreThanDays * DAY_MS
  ) {
    return {
      ...base,
      rule: 'imported-before',
      detail: `the material dates from ${imported.toISOString()}, more than ${policy.importedMoreThanDays} days ago`,
    };
  }
  return undefined;
}
