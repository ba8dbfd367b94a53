import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildFunctions, FUNCTION_FOLDERS } from '../../../scripts/build';
import { FUNCTION_BUNDLE_FILE } from '../../../infra/keymat-function';

/**
 * Each function's bundle budget in bytes: its size after the start-up work (ES modules, zod/mini, no profile
 * credential providers), plus about 5%. Start-up grows with the code a cold start
 * compiles, so a bundle past its budget means a dependency or a schema library came back: find it (esbuild's
 * metafile names the inputs by size) before raising the number.
 */
const BUDGET_BYTES: Record<(typeof FUNCTION_FOLDERS)[number], number> = {
  'validate-origin': 260_000,
  'check-state': 64_000,
  'request-approval': 292_000,
  'delete-material': 310_000,
  'verify-pending-import': 262_000,
  'notify-outcome': 254_000,
  'approval-page': 323_000,
  'expiry-scan': 351_000,
  gateway: 395_000,
};

describe('function bundles', () => {
  let root: string;
  beforeAll(async () => {
    root = mkdtempSync(join(tmpdir(), 'keymat-bundles-'));
    await buildFunctions(root);
  });
  afterAll(() => rmSync(root, { recursive: true, force: true }));

  it.each(FUNCTION_FOLDERS)('keeps %s within its size budget', (folder) => {
    const bytes = statSync(join(root, folder, FUNCTION_BUNDLE_FILE)).size;
    expect({ folder, bytes, withinBudget: bytes <= BUDGET_BYTES[folder] }).toEqual({
      folder,
      bytes,
      withinBudget: true,
    });
  });
});
