import type { KeyMetadata, RotationsListEntry } from '@aws-sdk/client-kms';
import { buildPlan, type KeySnapshot, type PlanContext } from '../../core/plan';
import type { ApprovalRules, ChangeInput, Plan } from '../../core/types';

export const KEY_ID = '1234abcd-12ab-34cd-56ef-1234567890ab';
export const KEY_ARN = `arn:aws:kms:us-east-1:111122223333:key/${KEY_ID}`;
export const M1 = 'a'.repeat(64);
export const M2 = 'b'.repeat(64);
export const REPLICA_ARN = 'arn:aws:kms:eu-west-1:111122223333:key/mrk-0123456789abcdef0123456789abcdef';

export const metadata = (over: Partial<KeyMetadata> = {}): KeyMetadata => ({
  KeyId: KEY_ID,
  Arn: KEY_ARN,
  KeyState: 'Enabled',
  Origin: 'EXTERNAL',
  KeyManager: 'CUSTOMER',
  MultiRegion: false,
  CurrentKeyMaterialId: M1,
  ...over,
});

export const material = (id: string, over: Partial<RotationsListEntry> = {}): RotationsListEntry => ({
  KeyId: KEY_ID,
  KeyMaterialId: id,
  KeyMaterialState: 'CURRENT',
  ImportState: 'IMPORTED',
  ExpirationModel: 'KEY_MATERIAL_DOES_NOT_EXPIRE',
  ...over,
});

export const snapshot = (meta: Partial<KeyMetadata> = {}, materials = [material(M1)]): KeySnapshot => ({
  metadata: metadata(meta),
  materials,
});

export const input = (over: Partial<ChangeInput> = {}): ChangeInput => ({
  keyId: KEY_ARN,
  changeId: 'CHG-1',
  reason: 'unit test',
  requestedBy: 'alice',
  waitSeconds: 30,
  dryRun: false,
  ...over,
});

/** The deployment's rules of a stack with the defaults: one approver, anyone but the requester. */
export const DEPLOYMENT_RULES: ApprovalRules = { quorum: 1, allowedApprovers: [] };

/**
 * Where KEY_ARN lives, as a plan of a deployment without members names it; with no recovery proof asked, so that a
 * test of anything else needs no proof or confirmation (the proof's own tests set `recoveryProof`).
 */
export const HUB_CONTEXT: PlanContext = {
  location: { account: '111122223333', accountName: '111122223333', ouPath: [], region: 'us-east-1' },
  rules: DEPLOYMENT_RULES,
  recoveryProof: 'off',
};

export const planFor = (s: KeySnapshot, keyMaterialId?: string, context: PlanContext = HUB_CONTEXT): Plan =>
  buildPlan(s, [], undefined, keyMaterialId, context);
