import { Command } from 'commander';
import type { LambdaCall, OrganizationsCall } from '../../core/aws-api';
import { ARN } from '../../core/naming';
import type { Members } from '../../core/organisation';
import { printable } from '../../core/text';
import { STANDARD_ATTEMPTS, createOrganizationsClient } from '../../functions/runtime/aws';
import { createLambdaClient } from '../../functions/runtime/change-tickets';
import { createKeyAccess } from '../../functions/runtime/key-access';
import { diagnoseFleet, type DoctorReport, type FleetDoctorDeps } from '../../functions/runtime/org-doctor';
import { DEFAULT_REGION, DEFAULT_STATE_DIR, LOCAL_ACCOUNT_ID } from '../../local/constants';
import { hubRoleArn, internalCredentials, taskCredentials } from '../../local/services/internal-access';
import { cliEnvironment } from '../env';
import { givenOrStackOutput, servedEndpoint } from '../operations';
import { CliError, EXIT, lineWriter, printJson, type CliIo } from '../output';
import { membersFile, regionList } from '../options';

interface DoctorOptions {
  local: boolean;
  stateDir: string;
  members?: Members;
  regions?: string[];
  function?: string;
  stackName: string;
  json: boolean;
}

/** The output of the hub stack that names its fleet doctor function. */
const ORG_DOCTOR_OUTPUT = 'OrgDoctorFunctionName';

/** Whom the doctor acts as, and its access as that identity. */
export interface DoctorAccess {
  /** The identity's ARN, which the table's heading names. */
  identity: string;
  deps: FleetDoctorDeps;
}

/**
 * The doctor's access on the local stack: as the hub's fleet doctor function (OrgDoctor), whose identity the member
 * read roles trust as a deployment's do, through the stack's STS, Organizations and KMS.
 */
export function localDoctorAccess(stateDir: string, endpoint: string): DoctorAccess {
  const credentials = taskCredentials(internalCredentials(stateDir), 'OrgDoctor');
  const hub = { account: LOCAL_ACCOUNT_ID, region: DEFAULT_REGION };
  const aws = { endpoint, credentials };
  return {
    identity: hubRoleArn('OrgDoctor'),
    deps: {
      organizations: createOrganizationsClient({ ...aws, region: hub.region, maxAttempts: STANDARD_ATTEMPTS }),
      keyAccess: (role) => createKeyAccess({ scope: hub, role, aws, kmsMaxAttempts: STANDARD_ATTEMPTS }),
      hub,
    },
  };
}

/**
 * The fleet doctor of a deployed hub: invokes its OrgDoctor function, which runs the diagnosis as its own role (the
 * member read roles trust that role, not the caller's), and reads the report it answers with. The function is given
 * by name or ARN; an ARN's Region is where it is called, else the SDK's Region.
 *
 * @throws CliError when the function fails, naming its error
 */
export async function invokeDoctor(lambda: LambdaCall, functionName: string): Promise<DoctorReport> {
  const answer = await lambda('Invoke', { FunctionName: functionName, Payload: new TextEncoder().encode('{}') });
  const text = new TextDecoder().decode(answer.Payload ?? new Uint8Array());
  let payload: unknown;
  try {
    payload = JSON.parse(text);
  } catch {
    payload = undefined;
  }
  if (answer.FunctionError !== undefined) {
    const { errorType, errorMessage } = (payload ?? {}) as { errorType?: string; errorMessage?: string };
    throw new CliError(
      `the fleet doctor ${functionName} failed: ${errorType ?? answer.FunctionError}: ${errorMessage ?? printable(text)}`,
    );
  }
  const report = payload as Partial<DoctorReport> | undefined;
  if (!Array.isArray(report?.rows) || typeof report.failures !== 'number') {
    throw new CliError(`the fleet doctor ${functionName} answered no report: '${printable(text.slice(0, 200))}'`);
  }
  return report as DoctorReport;
}

/** A Lambda client for the doctor's invocation, in the Region its ARN names (else the SDK's), retried for people. */
const doctorLambda = (functionName: string): LambdaCall => {
  const region = ARN.exec(functionName)?.[3];
  return createLambdaClient({ maxAttempts: STANDARD_ATTEMPTS, ...(region && { region }) });
};

/** What `keymat org` calls AWS with; tests give their own. */
export interface OrgCommandClients {
  /** The Lambda client that invokes the fleet doctor `functionName`. */
  lambda: (functionName: string) => LambdaCall;
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

/** The doctor's answer for people: who checked (`identity`) from where, the table, and the count of failures. */
export function doctorLines(report: DoctorReport, identity: string): string[] {
  return [
    printable(
      `organisation ${report.organizationId} (management account ${report.managementAccount}), checked from the hub ${report.hub.account} ${report.hub.region} as ${identity}:`,
    ),
    ...doctorTable(report),
    report.failures === 0 ? 'no failures' : `${report.failures} failure${report.failures === 1 ? '' : 's'}`,
  ];
}

/**
 * `keymat org`: keymat across an organisation, from the hub. `org doctor` checks every member account and Region and
 * exits 1 on any failure: on AWS by invoking the hub's fleet doctor function, on the local stack as that function's
 * local identity.
 */
export function orgCommand(io: CliIo, clients: OrgCommandClients = { lambda: doctorLambda }): Command {
  const say = lineWriter(io);
  const doctor = new Command('doctor')
    .description(
      "check every member account and Region from the hub: the member roles, the keys' policies, the management account",
    )
    .option(
      '--function <name>',
      `the hub's fleet doctor function, by name or ARN (default: KEYMAT_ORG_DOCTOR_FUNCTION, else the stack's ${ORG_DOCTOR_OUTPUT} output)`,
    )
    .option('--stack-name <name>', `the deployed hub stack whose ${ORG_DOCTOR_OUTPUT} output to use`, 'Keymat')
    .option(
      '--local',
      'check the organisation of the local stack served for --state-dir, as its doctor function',
      false,
    )
    .option('--state-dir <dir>', 'state folder of the local stack', DEFAULT_STATE_DIR)
    .option(
      '--members <file>',
      "with --local: the hub's members as JSON (its `members` prop, or a cdk.json holding it); default: every account of the organisation",
      membersFile,
    )
    .option(
      '--regions <list>',
      "with --local: the Regions to check when --members is not given (default: the hub's)",
      regionList,
    )
    .option('--json', 'print JSON for scripts', false)
    .action(async (opts: DoctorOptions) => {
      let report: DoctorReport;
      let identity: string;
      if (opts.local) {
        const endpoint = servedEndpoint(opts.stateDir);
        const { deps, identity: local } = localDoctorAccess(opts.stateDir, endpoint);
        report = await diagnoseFleet(deps, await membersOf(opts, deps.organizations, deps.hub.region));
        identity = local;
      } else {
        if (opts.members !== undefined || opts.regions !== undefined) {
          throw new CliError(
            "--members and --regions go with --local: a deployed hub's doctor checks the members it was deployed with",
          );
        }
        const functionName = await doctorFunction(opts, io.env);
        report = await invokeDoctor(clients.lambda(functionName), functionName);
        identity = `the role of ${functionName}`;
      }
      if (opts.json) printJson(io, report);
      else for (const line of doctorLines(report, identity)) say(line);
      if (report.failures > 0) io.exitCode = EXIT.failed;
    });
  return new Command('org').description('keymat across an AWS Organization, from the hub').addCommand(doctor);
}

/** The fleet doctor function: the option, `KEYMAT_ORG_DOCTOR_FUNCTION`, or the hub stack's output. */
async function doctorFunction(opts: DoctorOptions, variables: CliIo['env']): Promise<string> {
  const given = opts.function ?? cliEnvironment(variables).orgDoctorFunction;
  return givenOrStackOutput(given, opts.stackName, ORG_DOCTOR_OUTPUT, 'a fleet doctor');
}
