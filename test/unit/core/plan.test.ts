import { compareWithPlan, verifyAgainstPlan } from '../../../core/plan';
import { HUB_CONTEXT, M1, M2, material, planFor, snapshot } from '../../helpers/kms-fixtures';

const VALID_TO = new Date('2031-01-01T00:00:00Z');
const expiring = (id: string, over: Parameters<typeof material>[1] = {}) =>
  material(id, { ExpirationModel: 'KEY_MATERIAL_EXPIRES', ValidTo: VALID_TO, ...over });
const now = new Date('2030-06-01T00:00:00Z');

/** The key after KMS deleted the current material, with the expiry fields dropped (AWS) or kept (the other reading). */
const deletedCurrent = (fields: 'dropped' | 'kept') =>
  snapshot({ KeyState: 'PendingImport' }, [
    fields === 'kept'
      ? expiring(M1, { ImportState: 'PENDING_IMPORT' })
      : material(M1, { ImportState: 'PENDING_IMPORT', ExpirationModel: undefined }),
    expiring(M2, { KeyMaterialState: 'NON_CURRENT' }),
  ]);

describe('compareWithPlan', () => {
  const plan = planFor(snapshot({}, [expiring(M1), expiring(M2, { KeyMaterialState: 'NON_CURRENT' })]));

  it('finds the key unchanged when it is as planned', () => {
    expect(compareWithPlan(snapshot({}, [expiring(M1), expiring(M2, { KeyMaterialState: 'NON_CURRENT' })]), plan)).toBe(
      'UNCHANGED',
    );
  });

  it.each(['dropped', 'kept'] as const)(
    'recognises the post-state of a deletion whose expiry fields were %s',
    (fields) => {
      expect(compareWithPlan(deletedCurrent(fields), plan)).toBe('APPLIED');
    },
  );

  it('does not count a new ValidTo on the target as drift', () => {
    const reimported = snapshot({}, [
      expiring(M1, { ValidTo: new Date('2031-02-01T00:00:00Z') }),
      expiring(M2, { KeyMaterialState: 'NON_CURRENT' }),
    ]);
    expect(compareWithPlan(reimported, plan)).toBe('UNCHANGED');
  });

  it('refuses a post-state in which another material changed', () => {
    const other = snapshot({ KeyState: 'PendingImport' }, [
      material(M1, { ImportState: 'PENDING_IMPORT', ExpirationModel: undefined }),
      material(M2, { KeyMaterialState: 'NON_CURRENT', ImportState: 'PENDING_IMPORT', ExpirationModel: undefined }),
    ]);
    expect(compareWithPlan(other, plan)).toEqual({ drift: expect.any(String) });
  });

  it('names other materials that changed before the deletion as drift', () => {
    const other = snapshot({}, [
      expiring(M1),
      expiring(M2, { KeyMaterialState: 'NON_CURRENT', ImportState: 'PENDING_IMPORT' }),
    ]);
    expect(compareWithPlan(other, plan)).toEqual({ drift: expect.stringContaining('otherMaterials') });
  });

  it('refuses a rotation since the plan as drift', () => {
    const rotated = snapshot({ CurrentKeyMaterialId: M2 }, [
      expiring(M1, { KeyMaterialState: 'NON_CURRENT' }),
      expiring(M2, { KeyMaterialState: 'CURRENT' }),
    ]);
    expect(compareWithPlan(rotated, plan)).toEqual({ drift: expect.stringContaining('currentKeyMaterialId') });
  });

  it('recognises a deleted pending-rotation material as gone', () => {
    const pending = planFor(snapshot({}, [expiring(M1), expiring(M2, { KeyMaterialState: 'PENDING_ROTATION' })]), M2);
    expect(compareWithPlan(snapshot({}, [expiring(M1)]), pending)).toBe('APPLIED');
  });
});

describe('verifyAgainstPlan', () => {
  const plan = planFor(snapshot({}, [expiring(M1), expiring(M2, { KeyMaterialState: 'NON_CURRENT' })]));

  it.each(['dropped', 'kept'] as const)('verifies the post-state whose expiry fields were %s', (fields) => {
    expect(verifyAgainstPlan(deletedCurrent(fields), plan, now)).toEqual({
      keyStateAfter: 'PendingImport',
      materialAfter: 'PENDING_IMPORT',
      verifiedAt: now.toISOString(),
    });
  });

  it('waits while the key still shows the state before the deletion', () => {
    expect(
      verifyAgainstPlan(snapshot({}, [expiring(M1), expiring(M2, { KeyMaterialState: 'NON_CURRENT' })]), plan, now),
    ).toBeUndefined();
  });
});

describe('a restore plan', () => {
  const restoring = { ...HUB_CONTEXT, restore: true as const };
  const deletedOnly = snapshot({ KeyState: 'PendingImport' }, [
    material(M1, { ImportState: 'PENDING_IMPORT', ExpirationModel: undefined }),
  ]);
  const restored = snapshot({ KeyState: 'Enabled' }, [material(M1)]);

  it('expects the material IMPORTED and the key Enabled, and binds the restore into the digest', () => {
    const plan = planFor(deletedOnly, M1, restoring);
    expect(plan).toMatchObject({
      restore: true,
      keyStateBefore: 'PendingImport',
      expectedKeyState: 'Enabled',
      expectedMaterial: 'IMPORTED',
      warnings: [],
    });
    expect(plan.digest).not.toBe(planFor(deletedOnly, M1).digest);
  });

  it('keeps the key PendingImport while another permanently associated material is still deleted', () => {
    const both = snapshot({ KeyState: 'PendingImport' }, [
      material(M1, { ImportState: 'PENDING_IMPORT', ExpirationModel: undefined }),
      material(M2, { KeyMaterialState: 'NON_CURRENT', ImportState: 'PENDING_IMPORT', ExpirationModel: undefined }),
    ]);
    expect(planFor(both, M2, restoring).expectedKeyState).toBe('PendingImport');
  });

  it('recognises the restored key as the post-state, and the deleted one as unchanged', () => {
    const plan = planFor(deletedOnly, M1, restoring);
    expect(compareWithPlan(deletedOnly, plan)).toBe('UNCHANGED');
    expect(compareWithPlan(restored, plan)).toBe('APPLIED');
  });

  it('verifies the material IMPORTED and the key Enabled, and waits while the material is still deleted', () => {
    const plan = planFor(deletedOnly, M1, restoring);
    expect(verifyAgainstPlan(restored, plan, now)).toEqual({
      keyStateAfter: 'Enabled',
      materialAfter: 'IMPORTED',
      verifiedAt: now.toISOString(),
    });
    expect(verifyAgainstPlan(deletedOnly, plan, now)).toBeUndefined();
  });

  describe('with a validTo', () => {
    const UNTIL = '2030-12-31T00:00:00Z';
    const expiringRestore = { ...restoring, validTo: UNTIL };
    const restoredExpiring = (validTo: Date) =>
      snapshot({ KeyState: 'Enabled' }, [material(M1, { ExpirationModel: 'KEY_MATERIAL_EXPIRES', ValidTo: validTo })]);

    it('records the expiry in the plan and binds it into the digest, leaving the digests without one as they were', () => {
      const plan = planFor(deletedOnly, M1, expiringRestore);
      expect(plan.validTo).toBe(UNTIL);
      expect(plan.digest).not.toBe(planFor(deletedOnly, M1, restoring).digest);
      expect(planFor(deletedOnly, M1, { ...restoring, validTo: '2030-12-31T00:00:01Z' }).digest).not.toBe(plan.digest);
      // The digest of a restore without an expiry, fixed when restores came: adding validTo left it unchanged.
      expect(planFor(deletedOnly, M1, restoring).digest).toBe(
        '3df067e9ec53e24142f6c9a9abd60066e1751c0a6b9a90c3912d56c8706e5ff8',
      );
    });

    it('takes a validTo changed or dropped after the digest was made as drift', () => {
      const plan = { ...planFor(deletedOnly, M1, expiringRestore), validTo: '2030-12-31T23:59:59Z' };
      expect(compareWithPlan(deletedOnly, plan)).toEqual({ drift: expect.stringContaining('validTo') });
      const withoutExpiry = { ...planFor(deletedOnly, M1, expiringRestore), validTo: undefined };
      expect(compareWithPlan(deletedOnly, withoutExpiry)).toEqual({ drift: expect.stringContaining('validTo') });
    });

    it('recognises the material back with the planned ValidTo as the post-state, and another expiry as drift', () => {
      const plan = planFor(deletedOnly, M1, expiringRestore);
      expect(compareWithPlan(restoredExpiring(new Date(UNTIL)), plan)).toBe('APPLIED');
      expect(compareWithPlan(restoredExpiring(new Date('2030-11-30T00:00:00Z')), plan)).toEqual({
        drift: `the material is imported again, but its ValidTo is 2030-11-30T00:00:00.000Z, not ${UNTIL}`,
      });
      expect(compareWithPlan(restored, plan)).toEqual({
        drift:
          'the material is imported again, but its ExpirationModel is KEY_MATERIAL_DOES_NOT_EXPIRE, not KEY_MATERIAL_EXPIRES',
      });
    });

    it('does not take an expiring material as the post-state of a restore without an expiry', () => {
      const plan = planFor(deletedOnly, M1, restoring);
      expect(compareWithPlan(restoredExpiring(new Date(UNTIL)), plan)).toEqual({
        drift:
          'the material is imported again, but its ExpirationModel is KEY_MATERIAL_EXPIRES, not KEY_MATERIAL_DOES_NOT_EXPIRE',
      });
    });

    it('verifies the planned expiry where the key reports it, and fails VerificationFailed on another', () => {
      const plan = planFor(deletedOnly, M1, expiringRestore);
      expect(verifyAgainstPlan(restoredExpiring(new Date(UNTIL)), plan, now)).toMatchObject({
        materialAfter: 'IMPORTED',
      });
      const unreported = snapshot({ KeyState: 'Enabled' }, [material(M1, { ExpirationModel: undefined })]);
      expect(verifyAgainstPlan(unreported, plan, now)).toMatchObject({ materialAfter: 'IMPORTED' });
      expect(() => verifyAgainstPlan(restored, plan, now)).toThrow(
        expect.objectContaining({
          name: 'VerificationFailed',
          message: expect.stringContaining(
            'its ExpirationModel is KEY_MATERIAL_DOES_NOT_EXPIRE, not KEY_MATERIAL_EXPIRES',
          ),
        }),
      );
    });
  });
});
