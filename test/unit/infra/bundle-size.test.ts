import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildFunctions, FUNCTION_FOLDERS, type FunctionBundle } from '../../../scripts/build';

/**
 * Each function's budget for the JavaScript its cold start loads (the handler's module and the chunks it imports
 * statically), in bytes: its size with keymat's own AWS client, which loads its signer at the first call, plus about
 * 5%. Start-up grows with the code a cold start compiles, so a function past its budget means a dependency or a schema
 * library came back, or a client started loading what it imports dynamically: find it (esbuild's metafile names the
 * inputs by size) before raising the number.
 */
const BUDGET_BYTES: Record<(typeof FUNCTION_FOLDERS)[number], number> = {
  'validate-origin': 89_000,
  'check-state': 71_000,
  'request-approval': 97_000,
  'check-change-window': 87_000,
  'delete-material': 96_000,
  'verify-pending-import': 85_000,
  'notify-outcome': 91_000,
  'approval-page': 111_000,
  'expiry-scan': 105_000,
  gateway: 108_000,
};

/** What a bundle may hold of the AWS SDK: the SigV4 signer and what it imports, never a client. */
const SIGNER_PACKAGES = ['@smithy/core', '@smithy/signature-v4', '@smithy/types'];

describe('function bundles', () => {
  let root: string;
  let bundles: FunctionBundle[];
  beforeAll(async () => {
    root = mkdtempSync(join(tmpdir(), 'keymat-bundles-'));
    bundles = await buildFunctions(root);
  });
  afterAll(() => rmSync(root, { recursive: true, force: true }));

  it.each(FUNCTION_FOLDERS)('keeps %s within its start-up budget', (folder) => {
    const bytes = bundles.find((b) => b.folder === folder)?.startupBytes;
    expect({ folder, bytes, withinBudget: bytes !== undefined && bytes <= BUDGET_BYTES[folder] }).toEqual({
      folder,
      bytes,
      withinBudget: true,
    });
  });

  it.each(FUNCTION_FOLDERS.filter((f) => f !== 'check-state'))(
    'bundles %s with the signer and no SDK client',
    (folder) => {
      expect(bundles.find((b) => b.folder === folder)?.sdkPackages).toEqual(SIGNER_PACKAGES);
    },
  );

  it('bundles check-state, which calls no AWS service, with nothing of the SDK', () => {
    expect(bundles.find((b) => b.folder === 'check-state')?.sdkPackages).toEqual([]);
  });
});
