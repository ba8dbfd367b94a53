import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildFunctions, FUNCTION_FOLDERS, type FunctionBundle } from '../../../scripts/build';

type Folder = (typeof FUNCTION_FOLDERS)[number];

/**
 * Each function's budget for the JavaScript its cold start loads (the handler's module and the chunks it imports
 * statically), in bytes: its size with the SDK clients it makes, plus about 5%. A function past its budget took a new
 * dependency or client: find it (esbuild's metafile names the inputs by size) before raising the number. The start-up
 * time itself is measured by `npm run bench`, against a reference bundle of the same SDK clients.
 */
const BUDGET_BYTES: Record<Folder, number> = {
  // With the Organizations client and STS's credential provider, for keys of member accounts.
  'validate-origin': 552_000,
  // With the recovery proof's rules (core/recovery.ts), to say whether a proof is asked.
  'check-state': 76_000,
  // With STS's credential provider, for keys of member accounts.
  'prove-recovery': 340_000,
  'request-approval': 409_000,
  'check-change-window': 342_000,
  // With the recovery proof's check.
  'delete-material': 349_000,
  // With STS's credential provider, for keys of member accounts.
  'verify-pending-import': 305_000,
  'notify-outcome': 306_000,
  'approval-page': 382_000,
  // With the Organizations, EventBridge and S3 clients and STS's credential provider, for the fleet scan (S3: the
  // summary reads the map's results).
  'expiry-scan': 611_000,
  // With the Organizations client and STS's credential provider, for the fleet doctor.
  'org-doctor': 325_000,
  gateway: 449_000,
};

/** The SDK clients each function makes, and so must carry: none other (the rest is shaken out). */
const CLIENTS: Record<Folder, string[]> = {
  'validate-origin': ['client-eventbridge', 'client-kms', 'client-lambda', 'client-organizations', 'client-ssm'],
  'check-state': [],
  'prove-recovery': ['client-kms', 'client-sns'],
  'request-approval': ['client-eventbridge', 'client-secrets-manager', 'client-sns', 'client-ssm'],
  'check-change-window': ['client-ssm'],
  'delete-material': ['client-eventbridge', 'client-kms', 'client-sns'],
  'verify-pending-import': ['client-kms'],
  'notify-outcome': ['client-eventbridge', 'client-sns'],
  'approval-page': ['client-eventbridge', 'client-kms', 'client-secrets-manager', 'client-sfn'],
  'expiry-scan': ['client-eventbridge', 'client-kms', 'client-organizations', 'client-s3', 'client-sfn', 'client-sns'],
  'org-doctor': ['client-kms', 'client-organizations'],
  gateway: ['client-eventbridge', 'client-kms', 'client-sfn', 'client-ssm'],
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

  it.each(FUNCTION_FOLDERS)('bundles %s with the SDK clients it makes and no other', (folder) => {
    const clients = bundles
      .find((b) => b.folder === folder)
      ?.sdkPackages.filter((name) => name.startsWith('@aws-sdk/client-'))
      .map((name) => name.slice('@aws-sdk/'.length));
    expect(clients).toEqual(CLIENTS[folder]);
  });
});
