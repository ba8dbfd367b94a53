import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildFunctions, FUNCTION_FOLDERS, type FunctionBundle } from '../../../scripts/build';

/**
 * Each function's budget for the JavaScript its cold start loads (the handler's module and the chunks it imports
 * statically), in bytes: its size with the SDK clients it sends with, plus about 5%. Start-up grows with the code a
 * cold start compiles, so a function past its budget means a dependency or a schema library came back, or a client
 * started loading what it imports dynamically: find it (esbuild's metafile names the inputs by size) before raising
 * the number.
 */
const BUDGET_BYTES: Record<(typeof FUNCTION_FOLDERS)[number], number> = {
  'validate-origin': 469_000,
  'check-state': 71_000,
  'request-approval': 393_000,
  'check-change-window': 309_000,
  'delete-material': 330_000,
  'verify-pending-import': 253_000,
  'notify-outcome': 293_000,
  'approval-page': 347_000,
  'expiry-scan': 348_000,
  gateway: 414_000,
};

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
});
