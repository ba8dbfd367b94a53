import type { GetKeyLastUsageResponse, KeyMetadata, RotationsListEntry } from '@aws-sdk/client-kms';
import { createHash } from 'node:crypto';
import { DEFAULT_RECENT_USE_DAYS } from './defaults';
import { KeymatError } from './errors';
import type { KeyLocation } from './organisation';
import type { ApprovalRules, MaterialState, Plan, RecoveryProofMode, VerificationResult } from './types';

/** What keymat reads of a key before deciding anything: its metadata and every material (ALL_KEY_MATERIAL). */
export interface KeySnapshot {
  metadata: KeyMetadata;
  materials: RotationsListEntry[];
}

const PERMANENT: MaterialState[] = ['CURRENT', 'NON_CURRENT'];

/** The material a change targets: the named one, or the current one when none is named (as KMS does). */
export function findTarget(snapshot: KeySnapshot, keyMaterialId: string | undefined): RotationsListEntry {
  const id = keyMaterialId ?? snapshot.metadata.CurrentKeyMaterialId;
  const target = id
    ? snapshot.materials.find((m) => m.KeyMaterialId === id)
    : snapshot.materials.find((m) => m.KeyMaterialState === 'CURRENT');
  if (!target) {
    throw new KeymatError(
      'KeyMaterialNotFound',
      keyMaterialId
        ? `key ${snapshot.metadata.Arn} has no key material ${keyMaterialId} (a pending-rotation material that was already deleted is gone from the list)`
        : `key ${snapshot.metadata.Arn} has no current key material`,
    );
  }
  return target;
}

/**
 * What a plan binds besides the key: where the key lives, the approval rules the change takes, and the recovery proof
 * it runs with.
 */
export interface PlanContext {
  location: KeyLocation;
  rules: ApprovalRules;
  recoveryProof: RecoveryProofMode;
  /** The change imports the deleted material back instead of deleting it. */
  restore?: true;
  /** A restore's expiry (`checkValidTo`'s form): the material comes back expiring at this instant. */
  validTo?: string;
}

/**
 * Builds the plan of a deletion from what was read. Deleting a permanently associated material (CURRENT or
 * NON_CURRENT) leaves it listed as PENDING_IMPORT and the key PendingImport; deleting a pending-rotation material
 * removes it from the list and leaves the key state as it was.
 *
 * A restore's plan (`context.restore`) expects the material IMPORTED again, and the key Enabled once no permanently
 * associated material is left to import (KMS enables a PendingImport key whose materials are all back); otherwise the
 * key state stays as it is.
 */
export function buildPlan(
  snapshot: KeySnapshot,
  aliases: string[],
  lastUsage: GetKeyLastUsageResponse | undefined,
  keyMaterialId: string | undefined,
  context: PlanContext,
  recentUse: { days: number; now: Date } = { days: DEFAULT_RECENT_USE_DAYS, now: new Date() },
): Plan {
  const meta = snapshot.metadata;
  const target = findTarget(snapshot, keyMaterialId);
  const state = target.KeyMaterialState as MaterialState;
  const permanent = PERMANENT.includes(state);
  const mrc = meta.MultiRegionConfiguration;
  const role = !meta.MultiRegion ? 'NONE' : mrc?.MultiRegionKeyType === 'REPLICA' ? 'REPLICA' : 'PRIMARY';
  const replicas = role === 'PRIMARY' ? (mrc?.ReplicaKeys ?? []).map((r) => r.Arn as string) : [];
  const usage = lastUsage?.KeyLastUsage;
  const restore = context.restore === true;
  const stillToImport = snapshot.materials.some(
    (m) =>
      m.KeyMaterialId !== target.KeyMaterialId &&
      m.ImportState === 'PENDING_IMPORT' &&
      PERMANENT.includes(m.KeyMaterialState as MaterialState),
  );
  const restoredKeyState = meta.KeyState === 'PendingImport' && !stillToImport ? 'Enabled' : (meta.KeyState as string);
  const plan: Omit<Plan, 'digest'> = {
    keyArn: meta.Arn as string,
    aliases,
    origin: meta.Origin as string,
    ...(meta.CurrentKeyMaterialId && { currentKeyMaterialId: meta.CurrentKeyMaterialId }),
    keyMaterialId: target.KeyMaterialId as string,
    keyMaterialState: state,
    importStateBefore: target.ImportState === 'PENDING_IMPORT' ? 'PENDING_IMPORT' : 'IMPORTED',
    ...(target.ValidTo && { materialValidTo: target.ValidTo.toISOString() }),
    keyStateBefore: meta.KeyState as string,
    // Deleting a permanently associated material makes the key unusable; a pending-rotation one changes nothing.
    expectedKeyState: restore ? restoredKeyState : permanent ? 'PendingImport' : (meta.KeyState as string),
    expectedMaterial: restore ? 'IMPORTED' : permanent ? 'PENDING_IMPORT' : 'REMOVED',
    ...(restore && { restore: true as const }),
    ...(restore && context.validTo !== undefined && { validTo: context.validTo }),
    alreadyDeleted: target.ImportState === 'PENDING_IMPORT',
    // Deleting a primary's pending material deletes it from every replica as well.
    multiRegion: { role, replicas, replicasAffected: permanent || restore ? [] : replicas },
    lastUsage: usage?.Timestamp
      ? {
          known: true,
          operation: usage.Operation,
          at: usage.Timestamp.toISOString(),
          ...(lastUsage?.TrackingStartDate && { trackingStartDate: lastUsage.TrackingStartDate.toISOString() }),
        }
      : {
          known: false,
          ...(lastUsage?.TrackingStartDate && { trackingStartDate: lastUsage.TrackingStartDate.toISOString() }),
        },
    location: context.location,
    rules: context.rules,
    recoveryProof: context.recoveryProof,
    warnings: restore ? [] : warningsFor(permanent, aliases, usage?.Timestamp, usage?.Operation, recentUse),
  };
  return { ...plan, digest: digest(factsOfSnapshot(snapshot, plan.keyMaterialId, context)) };
}

/** Warnings for the approver (rotation retirement): they do not block, and are not part of the digest. */
function warningsFor(
  permanent: boolean,
  aliases: string[],
  usedAt: Date | undefined,
  operation: string | undefined,
  recentUse: { days: number; now: Date },
): string[] {
  const warnings: string[] = [];
  if (permanent && aliases.length > 0) {
    warnings.push(
      `alias ${aliases.join(', ')} still points at this key: whatever uses the alias fails once the key is PendingImport; move the alias first`,
    );
  }
  if (usedAt && recentUse.now.getTime() - usedAt.getTime() < recentUse.days * 86_400_000) {
    const days = Math.floor((recentUse.now.getTime() - usedAt.getTime()) / 86_400_000);
    warnings.push(
      `the key was used for ${operation} ${days === 0 ? 'today' : `${days} days ago`}, within the ${recentUse.days}-day window: check that nothing still needs it`,
    );
  }
  return warnings;
}

/**
 * The facts an approval is bound to: what the plan promises about the key, and nothing a deletion is entitled to
 * change, with where the key lives and the rules its approvers were held to. A material's ExpirationModel and
 * ValidTo are left out: AWS drops them from a deleted material (and from the key), and the reference defines ValidTo
 * only while material is imported, so they cannot tell a drifted key from a deleted one. A restore's own `validTo`,
 * the expiry its approvers approve, is a fact when it has one. A change to any fact after approval is drift.
 */
interface Facts extends Omit<PlanContext, 'restore'> {
  /** Present on a restore only, so that a deletion's facts (and digest) are as they were before restores existed. */
  action?: 'RESTORE';
  keyArn: string;
  keyState: string;
  origin: string;
  currentKeyMaterialId: string | null;
  material: MaterialFacts | null;
  /** The key's other materials, by id: a deletion of the target leaves them as they are. */
  otherMaterials: MaterialFacts[];
  replicas: string[];
}

interface MaterialFacts {
  id: string;
  state: string;
  importState: string;
}

const materialFacts = (m: RotationsListEntry): MaterialFacts => ({
  id: m.KeyMaterialId as string,
  state: m.KeyMaterialState as string,
  importState: m.ImportState as string,
});

function factsOfSnapshot(snapshot: KeySnapshot, keyMaterialId: string, context: PlanContext): Facts {
  const m = snapshot.materials.find((x) => x.KeyMaterialId === keyMaterialId);
  const meta = snapshot.metadata;
  const { location, rules, recoveryProof, validTo } = context;
  return {
    ...(context.restore && { action: 'RESTORE' as const }),
    // Spelled field by field: the digest hashes JSON, whose text depends on the order of the fields.
    location: {
      account: location.account,
      accountName: location.accountName,
      ouPath: location.ouPath,
      region: location.region,
    },
    rules: {
      ...(rules.rule !== undefined && { rule: rules.rule }),
      quorum: rules.quorum,
      allowedApprovers: rules.allowedApprovers,
    },
    recoveryProof,
    // Only when given, so that a deletion's and an unexpiring restore's facts (and digests) are as they were before.
    ...(validTo !== undefined && { validTo }),
    keyArn: meta.Arn as string,
    keyState: meta.KeyState as string,
    origin: meta.Origin as string,
    currentKeyMaterialId: meta.CurrentKeyMaterialId ?? null,
    material: m ? materialFacts(m) : null,
    otherMaterials: snapshot.materials
      .filter((x) => x.KeyMaterialId !== keyMaterialId)
      .map(materialFacts)
      .sort((a, b) => a.id.localeCompare(b.id)),
    replicas:
      meta.MultiRegion && meta.MultiRegionConfiguration?.MultiRegionKeyType === 'PRIMARY'
        ? (meta.MultiRegionConfiguration.ReplicaKeys ?? []).map((r) => r.Arn as string)
        : [],
  };
}

/** The target material's facts as the plan read them. */
const plannedMaterial = (plan: Plan): MaterialFacts => ({
  id: plan.keyMaterialId,
  state: plan.keyMaterialState,
  importState: plan.importStateBefore,
});

const digest = (facts: Facts): string => createHash('sha256').update(JSON.stringify(facts)).digest('hex');

/**
 * Whether `now` is the plan's post-state: the key in the expected state and the target material PENDING_IMPORT
 * (same id and material state), IMPORTED or gone, as the plan says. The rest of the facts are checked against the
 * digest, and a restored material's expiry by `expiryDrift`.
 */
function isPostState(now: Facts, plan: Plan): boolean {
  if (now.keyState !== plan.expectedKeyState) return false;
  if (plan.expectedMaterial === 'REMOVED') return now.material === null;
  return (
    now.material !== null &&
    now.material.state === plan.keyMaterialState &&
    now.material.importState === plan.expectedMaterial
  );
}

/**
 * Compares the key as it is now with the approved plan: `UNCHANGED` (delete), `APPLIED` (the key is exactly in the
 * plan's post-state: an earlier attempt's deletion went through although its answer was lost), or drift.
 *
 * The post-state is recognised by putting back what the deletion changes (the key state and the target material)
 * and checking the result against the approved digest, so every other fact (the current material, the other
 * materials, the replicas) must be exactly as approved; a restored material must also carry the planned expiry.
 */
export function compareWithPlan(snapshot: KeySnapshot, plan: Plan): 'UNCHANGED' | 'APPLIED' | { drift: string } {
  const now = factsOfSnapshot(snapshot, plan.keyMaterialId, plan);
  if (digest(now) === plan.digest) return 'UNCHANGED';
  const restored: Facts = { ...now, keyState: plan.keyStateBefore, material: plannedMaterial(plan) };
  if (isPostState(now, plan) && digest(restored) === plan.digest) {
    const expiry = plan.restore ? expiryDrift(targetOf(snapshot, plan), plan) : undefined;
    return expiry === undefined ? 'APPLIED' : { drift: `the material is imported again, but ${expiry}` };
  }
  // The plan keeps every fact but the other materials, which only its digest covers. Its location and rules are
  // compared as the plan holds them: a digest that does not cover them means the plan was changed after approval.
  const approved: Omit<Facts, 'otherMaterials' | keyof PlanContext> = {
    keyArn: plan.keyArn,
    keyState: plan.keyStateBefore,
    origin: plan.origin,
    currentKeyMaterialId: plan.currentKeyMaterialId ?? null,
    material: plannedMaterial(plan),
    replicas: plan.multiRegion.replicas,
  };
  const changed = (Object.keys(approved) as (keyof typeof approved)[])
    .filter((k) => JSON.stringify(approved[k]) !== JSON.stringify(now[k]))
    .map((k) => `${k} was ${JSON.stringify(approved[k])}, now ${JSON.stringify(now[k])}`);
  return {
    drift:
      changed.length > 0
        ? changed.join('; ')
        : `otherMaterials differ from the approved ones (now ${JSON.stringify(now.otherMaterials)}), or the plan's location, rules, recovery proof or validTo are not the ones its digest was made for`,
  };
}

/** The target material as the key lists it now, if it does. */
const targetOf = (snapshot: KeySnapshot, plan: Plan): RotationsListEntry | undefined =>
  snapshot.materials.find((x) => x.KeyMaterialId === plan.keyMaterialId);

/** ImportKeyMaterial's expiry members: a material that expires at `ValidTo`, or one that does not expire. */
export type ImportExpiry =
  { ExpirationModel: 'KEY_MATERIAL_DOES_NOT_EXPIRE' } | { ExpirationModel: 'KEY_MATERIAL_EXPIRES'; ValidTo: Date };

/** The expiry a restore imports its material with: the plan's `validTo`, or none. */
export const restoreExpiry = (plan: Pick<Plan, 'validTo'>): ImportExpiry =>
  plan.validTo === undefined
    ? { ExpirationModel: 'KEY_MATERIAL_DOES_NOT_EXPIRE' }
    : { ExpirationModel: 'KEY_MATERIAL_EXPIRES', ValidTo: new Date(plan.validTo) };

const toSecond = (at: Date): number => Math.floor(at.getTime() / 1000);

/**
 * How a restored material's expiry differs from the plan's, in a phrase, or undefined when it does not. Read where
 * the key reports it: ListKeyRotations gives each material's own ExpirationModel and ValidTo (DescribeKey only the
 * earliest of all, which another material may set), compared to the second, as ImportKeyMaterial takes it.
 */
export function expiryDrift(material: RotationsListEntry | undefined, plan: Pick<Plan, 'validTo'>): string | undefined {
  const expected = restoreExpiry(plan);
  const model = material?.ExpirationModel;
  if (model !== undefined && model !== expected.ExpirationModel) {
    return `its ExpirationModel is ${model}, not ${expected.ExpirationModel}`;
  }
  const validTo = material?.ValidTo;
  if (expected.ExpirationModel === 'KEY_MATERIAL_DOES_NOT_EXPIRE') {
    return validTo === undefined
      ? undefined
      : `its ValidTo is ${validTo.toISOString()}, where the plan has it not expire`;
  }
  if (validTo !== undefined && toSecond(validTo) !== toSecond(expected.ValidTo)) {
    return `its ValidTo is ${validTo.toISOString()}, not ${plan.validTo}`;
  }
  return undefined;
}

/**
 * Checks the key against the plan's expected post-state. Returns the verified result, or `undefined` while the key
 * still shows the state before the deletion (eventual consistency: try again). Anything else is a failure.
 */
export function verifyAgainstPlan(snapshot: KeySnapshot, plan: Plan, now: Date): VerificationResult | undefined {
  const m = targetOf(snapshot, plan);
  const keyState = snapshot.metadata.KeyState as string;
  const materialDone =
    plan.expectedMaterial === 'REMOVED'
      ? !m || m.ImportState === 'PENDING_IMPORT'
      : m?.ImportState === plan.expectedMaterial;
  if (materialDone && keyState === plan.expectedKeyState) {
    const expiry = plan.restore ? expiryDrift(m, plan) : undefined;
    if (expiry !== undefined) {
      throw new KeymatError(
        'VerificationFailed',
        `key ${plan.keyArn} has material ${plan.keyMaterialId} back, but ${expiry}`,
      );
    }
    return {
      keyStateAfter: keyState,
      materialAfter: m ? (plan.expectedMaterial === 'IMPORTED' ? 'IMPORTED' : 'PENDING_IMPORT') : 'REMOVED',
      verifiedAt: now.toISOString(),
    };
  }
  const stillBefore = keyState === plan.keyStateBefore && m?.ImportState === plan.importStateBefore;
  if (stillBefore || (materialDone && keyState === plan.keyStateBefore)) return undefined;
  throw new KeymatError(
    'VerificationFailed',
    `key ${plan.keyArn} is ${keyState} with material ${plan.keyMaterialId} ${m ? m.ImportState : 'absent'}; expected ${plan.expectedKeyState} with the material ${plan.expectedMaterial === 'REMOVED' ? 'gone' : plan.expectedMaterial}`,
  );
}
