import { attestationMessage, inputDigest, type DecisionClaims } from '../../../core/attestation';

const claims: DecisionClaims = {
  kind: 'decision',
  executionArn: 'arn:aws:states:us-east-1:111122223333:execution:keymat-deletion:keymat-CHG-1',
  startedAt: '2026-11-22T09:59:00.000Z',
  round: 1,
  approver: 'arn:aws:iam::111122223333:user/bob',
  decision: 'approve',
  planDigest: 'a'.repeat(64),
  recoveryProof: 'c'.repeat(64),
  irreversible: false,
  at: '2026-11-22T10:00:00.000Z',
  channel: 'cli',
  comment: 'checked',
};

describe('attestationMessage', () => {
  it('renders every claim in a fixed order under a version line', () => {
    expect(attestationMessage(claims).toString()).toBe(
      [
        'keymat-attestation/1',
        'decision',
        `executionArn=${JSON.stringify(claims.executionArn)}`,
        'startedAt="2026-11-22T09:59:00.000Z"',
        'round=1',
        `approver=${JSON.stringify(claims.approver)}`,
        'decision="approve"',
        `planDigest="${'a'.repeat(64)}"`,
        `recoveryProof="${'c'.repeat(64)}"`,
        'irreversible=false',
        'at="2026-11-22T10:00:00.000Z"',
        'channel="cli"',
        'comment="checked"',
      ].join('\n'),
    );
  });

  it('differs when any claim differs, including the round, the recovery proof and the confirmation', () => {
    const base = attestationMessage(claims);
    expect(attestationMessage({ ...claims, round: 2 }).equals(base)).toBe(false);
    expect(attestationMessage({ ...claims, decision: 'reject' }).equals(base)).toBe(false);
    expect(attestationMessage({ ...claims, recoveryProof: '' }).equals(base)).toBe(false);
    expect(attestationMessage({ ...claims, irreversible: true }).equals(base)).toBe(false);
  });

  it('cannot be confused by a newline in a comment', () => {
    const forged = attestationMessage({ ...claims, comment: 'x\nround=2' }).toString();
    expect(forged.split('\n')).toHaveLength(13);
  });
});

describe('inputDigest', () => {
  it('ignores key order and the attestation field', () => {
    const a = inputDigest({ keyId: 'k', changeId: 'CHG-1', attestation: { mac: 'x' } });
    expect(inputDigest({ changeId: 'CHG-1', keyId: 'k' })).toBe(a);
  });

  it('changes when a value changes', () => {
    expect(inputDigest({ changeId: 'CHG-1' })).not.toBe(inputDigest({ changeId: 'CHG-2' }));
  });
});
