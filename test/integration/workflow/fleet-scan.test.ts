import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EXIT } from '../../../cli/output';
import { EVENT_DETAILS } from '../../../core/change-events';
import { FLEET_RESULTS_PREFIX } from '../../../core/naming';
import { mapRunManifestSchema } from '../../../core/map-results';
import { createS3Client } from '../../../functions/runtime/aws';
import { FLEET_RESULTS_BUCKET, LOCAL_ACCOUNT_ID } from '../../../local/constants';
import { localClientConfig } from '../../../local/services/clients';
import { hubRoleName, internalCredentials } from '../../../local/services/internal-access';
import type { Members } from '../../../core/organisation';
import { createExternalKey, localKmsClient, type CreatedKey } from '../../../local/kms/byok';
import { memberRoles } from '../../../local/services/member-roles';
import { LocalStack } from '../../../local/services/server';
import { addAccount, addOrganizationalUnit, initOrganization } from '../../../local/state/organization';
import { readEventsOutbox, readRequestLog, requestLogEnd } from '../../../local/state/store';
import { runDistributedMap, ToleratedFailuresExceeded } from '../../../local/workflow/distributed-map';
import { runLocalFleetScan } from '../../../local/workflow/fleet-scan';
import { prepareWorkflow } from '../../../local/workflow/workflow';
import { keymat } from '../../helpers/run-cli';

/**
 * The fleet scan on the local stack: keymat's local engine lists the member accounts × Regions from the stack's
 * Organizations, runs one child per item through the member read role (assumed by the scan's own identity through
 * the stack's STS, which enforces the roles' trust), and ends with Scan Completed on the stack's EventBridge.
 */
const ORGANIZATION_ID = 'o-a1b2c3d4e5';
const MEMBER = '444455556666';
const NO_ROLES = '555566667777';
const OUTSIDE_OU = '666677778888';
const REGIONS = ['eu-west-1', 'us-east-1'];
const DAY_MS = 86_400_000;

let dir: string;
let stack: LocalStack;
let members: Members;
let expiring: CreatedKey;
let production: string;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'keymat-fleet-'));
  // Served with the deletion workflow, so that the scan's changes start in it.
  stack = await LocalStack.start({
    stateDir: dir,
    workflow: (endpoint) => prepareWorkflow(endpoint, { approvalTimeoutSeconds: 600 }),
  });
  initOrganization(dir, { organizationId: ORGANIZATION_ID, roles: () => [] });
  production = addOrganizationalUnit(dir, { name: 'Production' }).id;
  const payments = addOrganizationalUnit(dir, { name: 'Payments', parentId: production }).id;
  addAccount(dir, { id: MEMBER, name: 'payments-prod', parentId: payments, roles: memberRoles });
  addAccount(dir, { id: NO_ROLES, name: 'forgotten', parentId: production, roles: () => [] });
  addAccount(dir, { id: OUTSIDE_OU, name: 'sandbox', roles: memberRoles });
  members = { organizationId: ORGANIZATION_ID, organizationalUnits: [production], regions: REGIONS };
  const key = (account: string, region: string, validTo?: Date) =>
    createExternalKey(localKmsClient(stack.endpoint, region, account), {
      materialDir: join(dir, 'byok'),
      ...(validTo && { validTo }),
    });
  expiring = await key(MEMBER, 'eu-west-1', new Date(Date.now() + 5 * DAY_MS));
  await key(MEMBER, 'us-east-1');
  await key(OUTSIDE_OU, 'eu-west-1', new Date(Date.now() + 5 * DAY_MS));
});
afterAll(async () => {
  await stack.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('the fleet scan on the local stack', () => {
  it('scans every account under the member OUs in every Region, and reports the account without the role with its cause while the others complete', async () => {
    const logStart = requestLogEnd(dir);
    const { summary, items } = await runLocalFleetScan({ stateDir: dir, members, dryRun: true });

    expect(items).toEqual([
      { account: MEMBER, region: 'eu-west-1' },
      { account: MEMBER, region: 'us-east-1' },
      { account: NO_ROLES, region: 'eu-west-1' },
      { account: NO_ROLES, region: 'us-east-1' },
    ]);
    expect(summary).toMatchObject({
      dryRun: true,
      itemsTotal: 4,
      itemsScanned: 2,
      accountsScanned: 1,
      keysListed: 2,
      externalKeys: 2,
      violations: 1,
      changesStarted: 0,
    });
    expect(summary.failed).toEqual(
      REGIONS.map((region) => ({
        account: NO_ROLES,
        region,
        error: 'MemberRoleUnavailable',
        cause: expect.stringContaining(`arn:aws:iam::${NO_ROLES}:role/keymat-member-read in account ${NO_ROLES}`),
      })),
    );

    const log = readRequestLog(dir, logStart);
    const runName = summary.executionArn.split(':').at(-1);
    // One AssumeRole for the member's two Regions: the run keeps the account's credentials.
    expect(log.filter((e) => e.service === 'sts' && e.operation === 'AssumeRole' && e.status === 200)).toHaveLength(1);
    const memberCalls = log.filter((e) => e.service === 'kms' && e.account === MEMBER);
    expect(memberCalls.length).toBeGreaterThan(0);
    for (const call of memberCalls) {
      expect(call).toMatchObject({
        caller: `arn:aws:sts::${MEMBER}:assumed-role/keymat-member-read/${runName}`,
        sourceIdentity: 'keymat-fleet-scan',
      });
    }
    // The account outside the member OUs is not touched.
    expect(log.some((e) => e.account === OUTSIDE_OU)).toBe(false);
  });

  it("writes the map's results to the stack's S3 as its ResultWriter, and the summary reads them there as the scan", async () => {
    const logStart = requestLogEnd(dir);
    const { summary, results } = await runLocalFleetScan({ stateDir: dir, members, dryRun: true });
    const s3Calls = readRequestLog(dir, logStart).filter((e) => e.service === 's3');
    // The engine writes the results (one file per status) and the manifest; the summary step reads them back.
    expect(s3Calls.map((e) => [e.operation, e.status])).toEqual([
      ['PutObject', 200],
      ['PutObject', 200],
      ['PutObject', 200],
      ['GetObject', 200],
      ['GetObject', 200],
      ['GetObject', 200],
    ]);
    const scanRole = hubRoleName('ExpiryScan');
    expect(s3Calls.filter((e) => e.operation === 'GetObject').map((e) => e.caller)).toEqual(
      Array(3).fill(`arn:aws:sts::${LOCAL_ACCOUNT_ID}:assumed-role/${scanRole}/${scanRole}`),
    );
    const internal = internalCredentials(dir);
    const s3 = createS3Client(localClientConfig(stack.endpoint, 'us-east-1', internal));
    const read = async (key: string) =>
      JSON.parse(await (await s3('GetObject', { Bucket: FLEET_RESULTS_BUCKET, Key: key })).Body!.transformToString());
    expect(results.ResultWriterDetails).toEqual({
      Bucket: FLEET_RESULTS_BUCKET,
      Key: `${FLEET_RESULTS_PREFIX}/${results.MapRunArn.split(':').at(-1)}/manifest.json`,
    });
    const manifest = mapRunManifestSchema.parse(await read(results.ResultWriterDetails.Key));
    expect(manifest.ResultFiles.SUCCEEDED).toHaveLength(1);
    expect(await read(manifest.ResultFiles.FAILED[0]!.Key)).toEqual(
      REGIONS.map((region) =>
        expect.objectContaining({ Status: 'FAILED', Input: JSON.stringify({ account: NO_ROLES, region }) }),
      ),
    );
    expect(summary.itemsTotal).toBe(4);
  });

  it('publishes Scan Completed, matching its schema, with the failed items', async () => {
    const { summary } = await runLocalFleetScan({ stateDir: dir, members, dryRun: true });
    const events = readEventsOutbox(dir).filter((e) => e.detailType === 'Scan Completed');
    const published = events.find((e) => (e.detail as { executionArn: string }).executionArn === summary.executionArn);
    expect(published).toBeDefined();
    expect(EVENT_DETAILS['Scan Completed'].parse(published?.detail)).toEqual(summary);
  });

  it("starts one change for the member's violating material, and none for the failed account", async () => {
    const start = jest.fn(async () => 'STARTED' as const);
    const { summary } = await runLocalFleetScan({ stateDir: dir, members, start });
    expect(start).toHaveBeenCalledTimes(1);
    expect(start).toHaveBeenCalledWith(
      expect.stringMatching(/^EXP-/),
      expect.objectContaining({ keyId: expiring.keyArn, keyMaterialId: expiring.keyMaterialId }),
    );
    expect(summary).toMatchObject({ dryRun: false, changesStarted: 1, violations: 1 });
  });
});

describe('keymat scan --org --local', () => {
  const scanOrg = (...args: string[]) =>
    keymat(['scan', '--org', '--local', '--state-dir', dir, '--regions', REGIONS.join(','), ...args]);

  it("prints the run's summary as JSON: the items scanned and each failed one with its cause", async () => {
    const r = await scanOrg('--organizational-units', production, '--dry-run', '--json');
    expect(r.code).toBe(0);
    const summary = EVENT_DETAILS['Scan Completed'].parse(JSON.parse(r.stdout));
    expect(summary).toMatchObject({ itemsTotal: 4, itemsScanned: 2, violations: 1, changesStarted: 0 });
    expect(summary.failed.map((f) => [f.account, f.region, f.error])).toEqual(
      REGIONS.map((region) => [NO_ROLES, region, 'MemberRoleUnavailable']),
    );
  });

  it('prints the summary in words, naming each failed account and Region', async () => {
    const r = await scanOrg('--accounts', `${MEMBER},${NO_ROLES}`, '--dry-run');
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('2 of 4 account × Region items scanned (1 account)');
    expect(r.stdout).toContain(`failed ${NO_ROLES} eu-west-1: MemberRoleUnavailable: STS refused role`);
  });

  it("starts the violation's change in the local deletion workflow, as the scan's own", async () => {
    const logStart = requestLogEnd(dir);
    const r = await scanOrg('--organizational-units', production, '--json');
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ changesStarted: 1, violations: 1 });
    const starts = readRequestLog(dir, logStart).filter((e) => e.operation === 'StartExecution');
    expect(starts).toEqual([expect.objectContaining({ status: 200, caller: expect.stringContaining('ExpiryScan') })]);
  });

  it('refuses a Region that is none, naming the option, and without --local says that a deployed hub scans on its schedule', async () => {
    const bad = await scanOrg('--regions', 'mars', '--dry-run');
    expect(bad.code).toBe(EXIT.usage);
    expect(bad.stderr).toContain("--regions must list Regions such as eu-west-1,us-east-1; got 'mars'");
    const deployed = await keymat(['scan', '--org', '--regions', 'eu-west-1']);
    expect(deployed.code).toBe(EXIT.failed);
    expect(deployed.stderr).toBe(
      'keymat: --regions goes with --local: a deployed hub scans its configured members on its schedule, and keymat scan --org shows its runs\n',
    );
  });
});

describe("keymat's local Distributed Map", () => {
  const items = Array.from({ length: 10 }, (_, i) => i);
  const mapRunArn = 'arn:aws:states:us-east-1:111122223333:mapRun:fleet/run';

  it('runs at most maxConcurrency children at once, and records a failed child with its input, error and cause', async () => {
    let running = 0;
    let most = 0;
    const { succeeded, failed } = await runDistributedMap({
      mapRunArn,
      items,
      maxConcurrency: 3,
      toleratedFailurePercentage: 10,
      child: async (item) => {
        most = Math.max(most, ++running);
        await new Promise((resolve) => setTimeout(resolve, 2));
        running -= 1;
        if (item === 4) throw Object.assign(new Error('no role'), { name: 'MemberRoleUnavailable' });
        return { item };
      },
    });
    expect(most).toBe(3);
    expect(succeeded).toHaveLength(9);
    expect(succeeded).toContainEqual({ item: 3 });
    expect(failed).toEqual([
      expect.objectContaining({ Status: 'FAILED', Input: '4', Error: 'MemberRoleUnavailable', Cause: 'no role' }),
    ]);
  });

  it('fails States.ExceedToleratedFailureThreshold when more children fail than it tolerates', async () => {
    const run = runDistributedMap({
      mapRunArn,
      items,
      maxConcurrency: 10,
      toleratedFailurePercentage: 10,
      child: async (item) => {
        if (item < 2) throw new Error('broken');
        return item;
      },
    });
    await expect(run).rejects.toThrow(ToleratedFailuresExceeded);
    await expect(run).rejects.toMatchObject({ name: 'States.ExceedToleratedFailureThreshold' });
  });
});
