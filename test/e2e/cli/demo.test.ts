import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { keymat } from '../../helpers/run-cli';

it('the npm start demo runs the change through approval to PendingImport and recovers the key', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'keymat-demo-'));
  try {
    const r = await keymat(['demo', '--state-dir', dir]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('The requester (arn:aws:iam::111122223333:user/alice) cannot approve this change.');
    expect(r.stdout).toMatch(
      /SUCCEEDED: \{"status":"DELETED".*"keyStateAfter":"PendingImport".*"approver":"arn:aws:iam::111122223333:user\/bob"/,
    );
    expect(r.stdout).toContain('DescribeKey: PendingImport');
    expect(r.stdout).toMatch(/Encrypt: KMSInvalidStateException/);
    expect(r.stdout).toMatch(/keymat restore --key-id \S+ --key-material-id [a-f0-9]{64} --change-id DEMO-\S+-restore/);
    expect(r.stdout).toContain('RESTORED. DescribeKey: Enabled; the old ciphertext decrypts to "the payroll db key"');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
