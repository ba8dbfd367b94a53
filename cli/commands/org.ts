import { GetCallerIdentityCommand, STSClient } from '@aws-sdk/client-sts';
import { Command, InvalidArgumentError } from 'commander';
import { readFileSync } from 'node:fs';
import type { OrganizationsCall } from '../../core/aws-api';
import { ARN } from '../../core/naming';
import { REGION, membersSchema, type Members } from '../../core/organisation';
import { printable } from '../../core/text';
import { STANDARD_ATTEMPTS, createOrganizationsClient } from '../../functions/runtime/aws';
import { createKeyAccess } from '../../functions/runtime/key-access';
import { diagnoseFleet, type DoctorReport, type FleetDoctorDeps } from '../../functions/runtime/org-doctor';
import { DEFAULT_REGION, DEFAULT_STATE_DIR, LOCAL_ACCOUNT_ID } from '../../local/constants';
import { hubRoleArn, internalCredentials, taskCredentials } from '../../local/services/internal-access';
import { runningEndpoint } from '../../local/state/store';
import { CliError, EXIT, lineWriter, printJson, type CliIo } from '../output';

interface DoctorOptions {
  local: boolean;
  stateDir: string;
  members?: Members;
  regions?: string[];
  json: boolean;
}

/** Whom the doctor acts as, and its access as that identity. */
export interface DoctorAccess {
  /** The identity's ARN, which the table's heading names. */
  identity: string;
  deps: FleetDoctorDeps;
}

/**
 * The doctor's access on the local stack: as the hub's scan function (the identity a fleet scan child assumes the
 * read role with), through the stack's STS, Organizations and KMS.
 */
export function localDoctorAccess(stateDir: string, endpoint: string): DoctorAccess {
  const credentials = taskCredentials(internalCredentials(stateDir), 'ExpiryScan');
  const hub = { account: LOCAL_ACCOUNT_ID, region: DEFAULT_REGION };
  const aws = { endpoint, credentials };
  return {
    identity: hubRoleArn('ExpiryScan'),
    deps: {
      organizations: createOrganizationsClient({ ...aws, region: hub.region, maxAttempts: STANDARD_ATTEMPTS }),
      keyAccess: (role) => createKeyAccess({ scope: hub, role, aws, kmsMaxAttempts: STANDARD_ATTEMPTS }),
      hub,
    },
  };
}

/** The doctor's access on AWS: as the caller (the SDK's credential chain), from the caller's account and Region. */
async function awsDoctorAccess(): Promise<DoctorAccess> {
  const sts = new STSClient({ maxAttempts: STANDARD_ATTEMPTS });
  const identity = await sts.send(new GetCallerIdentityCommand({}));
  const [, partition = 'aws', , , account = identity.Account ?? ''] = ARN.exec(identity.Arn ?? '') ?? [];
  const hub = { account, region: await sts.config.region() };
  return {
    identity: identity.Arn ?? account,
    deps: {
      organizations: createOrganizationsClient({ maxAttempts: STANDARD_ATTEMPTS }),
      keyAccess: (role) => createKeyAccess({ scope: hub, role, kmsMaxAttempts: STANDARD_ATTEMPTS }),
      hub,
      partition,
    },
  };
}

/**
 * The members to check: the file's (the hub's `members` value, or a cdk.json holding it under `context`), else every
 * account of the hub's organisation in `regions` (the hub's Region when none is given).
 */
async function membersOf(opts: DoctorOptions, organizations: OrganizationsCall, hubRegion: string): Promise<Members> {
  if (opts.members) return opts.members;
  const { Organization: organization } = await organizations('DescribeOrganization', {});
  if (!organization?.Id) throw new CliError('Organizations named no organisation for the hub account');
  return { organizationId: organization.Id, regions: opts.regions ?? [hubRegion] };
}

/** Parses `--members FILE`: the members object itself, or a cdk.json whose context holds it. */
function membersFile(path: string): Members {
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(path, 'utf8'));
  } catch (err) {
    throw new InvalidArgumentError(`--members must name a JSON file; '${path}': ${(err as Error).message}`);
  }
  const value = (raw as { context?: { members?: unknown } }).context?.members ?? raw;
  const parsed = membersSchema.safeParse(value);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new InvalidArgumentError(
      `--members '${path}': ${issue?.path.join('.') || '(root)'}: ${issue?.message ?? 'invalid'}`,
    );
  }
  return parsed.data;
}

/** Parses `--regions`: comma-separated Region names. */
function regionList(value: string): string[] {
  const regions = value
    .split(',')
    .map((r) => r.trim())
    .filter(Boolean);
  const wrong = regions.find((r) => !REGION.test(r));
  if (regions.length === 0 || wrong !== undefined) {
    throw new InvalidArgumentError(`--regions must list Regions such as eu-west-1,us-east-1; got '${wrong ?? value}'`);
  }
  return regions;
}

/** The doctor's answer as one table: account, Region, check, verdict, what to do. */
export function doctorTable(report: DoctorReport): string[] {
  const header = ['account', 'Region', 'check', 'verdict', 'what to do'];
  const cells = report.rows.map((r) =>
    [`${r.account} ${r.accountName}`, r.region, r.check, `${r.verdict}: ${r.detail}`, r.todo ?? ''].map((cell) =>
      printable(cell),
    ),
  );
  const widths = header.map((h, i) => Math.max(h.length, ...cells.map((c) => (c[i] as string).length)));
  // The last column is not padded: it is long, and trailing blanks help nobody.
  const line = (c: string[]) =>
    c
      .map((cell, i) => (i === c.length - 1 ? cell : cell.padEnd(widths[i] as number)))
      .join('  ')
      .trimEnd();
  return [line(header), ...cells.map(line)];
}

/** The doctor's answer for people: who checked from where, the table, and the count of failures. */
export function doctorLines(report: DoctorReport, { identity, deps }: DoctorAccess): string[] {
  return [
    printable(
      `organisation ${report.organizationId} (management account ${report.managementAccount}), checked from the hub ${deps.hub.account} ${deps.hub.region} as ${identity}:`,
    ),
    ...doctorTable(report),
    report.failures === 0 ? 'no failures' : `${report.failures} failure${report.failures === 1 ? '' : 's'}`,
  ];
}

/**
 * `keymat org`: keymat across an organisation, from the hub. `org doctor` checks every member account and Region and
 * exits 1 on any failure.
 */
export function orgCommand(io: CliIo): Command {
  const say = lineWriter(io);
  const doctor = new Command('doctor')
    .description(
      "check every member account and Region from the hub: the member roles, the keys' policies, the management account",
    )
    .option('--local', 'check the organisation of the local stack served for --state-dir, as its scan function', false)
    .option('--state-dir <dir>', 'state folder of the local stack', DEFAULT_STATE_DIR)
    .option(
      '--members <file>',
      "the hub's members as JSON (its `members` prop, or a cdk.json holding it); default: every account of the hub's organisation",
      membersFile,
    )
    .option('--regions <list>', "the Regions to check when --members is not given (default: the hub's)", regionList)
    .option('--json', 'print JSON for scripts', false)
    .action(async (opts: DoctorOptions) => {
      let access: DoctorAccess;
      if (opts.local) {
        const endpoint = runningEndpoint(opts.stateDir);
        if (!endpoint) {
          throw new CliError(
            `no local stack is serving ${opts.stateDir}: start one with 'keymat local serve --state-dir ${opts.stateDir}'`,
          );
        }
        access = localDoctorAccess(opts.stateDir, endpoint);
      } else {
        access = await awsDoctorAccess();
      }
      const { deps } = access;
      const report = await diagnoseFleet(deps, await membersOf(opts, deps.organizations, deps.hub.region));
      if (opts.json) printJson(io, report);
      else for (const line of doctorLines(report, access)) say(line);
      if (report.failures > 0) io.exitCode = EXIT.failed;
    });
  return new Command('org').description('keymat across an AWS Organization, from the hub').addCommand(doctor);
}
