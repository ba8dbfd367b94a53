import { errorName } from '../../../core/errors';
import {
  attestSubmission,
  changedByProof,
  effectiveRecoveryProof,
  expiryToKeep,
  proofApplies,
  recoveryLine,
  submissionClaims,
  verifySubmission,
} from '../../../core/recovery';
import { testAttestor } from '../../helpers/attestor';
import { HUB_CONTEXT, KEY_ARN, M1, M2, material, planFor, snapshot } from '../../helpers/kms-fixtures';

const VALID_TO = new Date('2031-01-01T00:00:00Z');
const expiring = (id: string, over: Parameters<typeof material>[1] = {}) =>
  material(id, { ExpirationModel: 'KEY_MATERIAL_EXPIRES', ValidTo: VALID_TO, ...over });

describe('effectiveRecoveryProof', () => {
  it.each([
    ['off', undefined, 'off'],
    ['offered', 'required', 'required'],
    ['offered', 'offered', 'offered'],
    ['off', 'offered', 'offered'],
  ] as const)('runs a %s deployment asked for %s as %s', (deployment, requested, expected) => {
    expect(effectiveRecoveryProof(deployment, requested)).toBe(expected);
  });

  it.each([
    ['required', 'offered'],
    ['offered', 'off'],
  ] as const)('refuses a %s deployment asked for the looser %s, naming both', (deployment, requested) => {
    let err: unknown;
    try {
      effectiveRecoveryProof(deployment, requested);
    } catch (e) {
      err = e;
    }
    expect(errorName(err)).toBe('InvalidInput');
    expect((err as Error).message).toBe(
      `recoveryProof may only be stricter than the deployment's ${deployment} (off < offered < required); got "${requested}"`,
    );
  });
});

describe('proofApplies', () => {
  it('applies to an imported permanent material', () => {
    expect(proofApplies(planFor(snapshot()))).toBe(true);
  });

  it('does not apply to a pending-rotation material or an already deleted one', () => {
    const pending = snapshot({}, [material(M1), material(M2, { KeyMaterialState: 'PENDING_ROTATION' })]);
    expect(proofApplies(planFor(pending, M2))).toBe(false);
    const deleted = snapshot({ KeyState: 'PendingImport' }, [material(M1, { ImportState: 'PENDING_IMPORT' })]);
    expect(proofApplies(planFor(deleted))).toBe(false);
  });
});

describe('expiryToKeep', () => {
  it('keeps an expiring material ValidTo and a lasting one without', () => {
    expect(expiryToKeep(expiring(M1))).toEqual({ ExpirationModel: 'KEY_MATERIAL_EXPIRES', ValidTo: VALID_TO });
    expect(expiryToKeep(material(M1))).toEqual({ ExpirationModel: 'KEY_MATERIAL_DOES_NOT_EXPIRE' });
  });
});

describe('changedByProof', () => {
  const before = snapshot({ ExpirationModel: 'KEY_MATERIAL_EXPIRES', ValidTo: VALID_TO }, [expiring(M1)]);

  it('finds nothing changed on the same key', () => {
    expect(
      changedByProof(before, snapshot({ ExpirationModel: 'KEY_MATERIAL_EXPIRES', ValidTo: VALID_TO }, [expiring(M1)])),
    ).toEqual([]);
  });

  it('names a moved ValidTo on the key and on the material', () => {
    const later = new Date('2031-02-01T00:00:00Z');
    const after = snapshot({ ExpirationModel: 'KEY_MATERIAL_EXPIRES', ValidTo: later }, [
      expiring(M1, { ValidTo: later }),
    ]);
    const changes = changedByProof(before, after);
    expect(changes[0]).toBe('validTo was 2031-01-01T00:00:00.000Z, now 2031-02-01T00:00:00.000Z');
    expect(changes[1]).toMatch(/^materials were .*2031-01-01.*, now .*2031-02-01/);
  });

  it('names a key state that changed', () => {
    const after = snapshot(
      { ExpirationModel: 'KEY_MATERIAL_EXPIRES', ValidTo: VALID_TO, KeyState: 'Disabled', Enabled: false },
      [expiring(M1)],
    );
    expect(changedByProof(before, after)).toEqual([
      'keyState was Enabled, now Disabled',
      'enabled was absent, now false',
    ]);
  });
});

describe('recoveryLine', () => {
  const plan = planFor(snapshot(), undefined, { ...HUB_CONTEXT, recoveryProof: 'offered' });
  const proven = {
    keyArn: KEY_ARN,
    keyMaterialId: M1,
    provedBy: 'arn:aws:iam::111122223333:role/custodian',
    provedAt: '2030-06-01T00:00:00.000Z',
    submissionDigest: 'c'.repeat(64),
    attestation: { at: '2030-06-01T00:00:00.000Z', channel: 'cli', mac: 'bWFj' },
  };

  it('names who proved the recovery and when', () => {
    expect(recoveryLine(plan, proven)).toBe(
      `Recovery proven by arn:aws:iam::111122223333:role/custodian at 2030-06-01T00:00:00.000Z (material ${M1}).`,
    );
  });

  it('opens with NOT SHOWN TO BE REVERSIBLE when an offered proof did not come', () => {
    expect(recoveryLine(plan, undefined)).toMatch(/^This deletion is NOT SHOWN TO BE REVERSIBLE: /);
  });

  it('says nothing when the proof is off or does not apply', () => {
    expect(recoveryLine({ ...plan, recoveryProof: 'off' }, undefined)).toBeUndefined();
    const pending = snapshot({}, [material(M1), material(M2, { KeyMaterialState: 'PENDING_ROTATION' })]);
    expect(recoveryLine({ ...planFor(pending, M2), recoveryProof: 'offered' }, undefined)).toBeUndefined();
  });
});

describe('submission attestations', () => {
  const plan = planFor(snapshot());
  const submission = {
    custodian: 'arn:aws:iam::111122223333:role/custodian',
    wrappedKeyMaterial: Buffer.from('wrapped').toString('base64'),
    at: '2030-06-01T00:00:00.000Z',
    channel: 'cli',
  };
  const execution = 'arn:aws:states:us-east-1:111122223333:execution:keymat:a';

  it('verifies for the execution, material and custodian it was made for, and for no other', async () => {
    const attestor = testAttestor();
    const mac = await attestSubmission(attestor, submissionClaims(execution, plan, submission));
    expect(await verifySubmission(attestor, submissionClaims(execution, plan, submission), mac)).toBe(true);
    for (const other of [
      submissionClaims(`${execution}2`, plan, submission),
      submissionClaims(execution, { ...plan, keyMaterialId: M2 }, submission),
      submissionClaims(execution, plan, { ...submission, custodian: 'arn:aws:iam::111122223333:role/other' }),
      submissionClaims(execution, plan, { ...submission, wrappedKeyMaterial: Buffer.from('other').toString('base64') }),
    ]) {
      expect(await verifySubmission(attestor, other, mac)).toBe(false);
    }
  });
});
