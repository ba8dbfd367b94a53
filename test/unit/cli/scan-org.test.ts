import { EXIT } from '../../../cli/output';
import { describeFleetScan, fleetScanCompleted, type FleetScanSummary } from '../../../core/fleet-scan';
import { keymatInProcess } from '../../helpers/run-cli';
import { SdkStub } from '../../helpers/sdk-stub';

/**
 * `keymat scan --org` against a deployed hub: it reads the fleet scan state machine's newest runs (the SDK's clients
 * answered by a stub) and prints the last SUCCEEDED run's summary, each newer run above it, and refuses the options of
 * a scan it would run itself.
 */
const MACHINE = 'arn:aws:states:eu-west-1:111122223333:stateMachine:Keymat-fleet-scan';
const run = (name: string) => `arn:aws:states:eu-west-1:111122223333:execution:Keymat-fleet-scan:${name}`;
const at = (hour: number) => new Date(Date.UTC(2026, 11, 6, hour));
const SUMMARY = fleetScanCompleted(
  { executionArn: run('monday'), dryRun: false },
  [
    { account: '444455556666', region: 'eu-west-1', keysListed: 12, externalKeys: 3, violations: 1, changesStarted: 1 },
    {
      Status: 'FAILED',
      Input: JSON.stringify({ account: '555566667777', region: 'eu-west-1' }),
      Error: 'MemberRoleUnavailable',
      Cause: 'STS refused keymat-member-read\u001b[2J',
    },
  ],
  at(6),
).detail as FleetScanSummary;

const listed = (name: string, status: string, hour: number) => ({
  executionArn: run(name),
  stateMachineArn: MACHINE,
  name,
  status,
  startDate: at(hour),
  ...(status !== 'RUNNING' && { stopDate: at(hour + 1) }),
});

const aws = new SdkStub();
aws.install(require);
/** Answers ListExecutions with `executions` and DescribeExecution with `described` by execution name. */
function answer(executions: ReturnType<typeof listed>[], described: Record<string, Record<string, unknown>> = {}) {
  aws.on('ListExecutions', { output: { executions } });
  aws.on('DescribeExecution', (call) => ({
    output: described[String(call.input.executionArn).split(':').pop()!] ?? {},
  }));
}
beforeEach(() => aws.reset());

/** `keymat scan --org` against the stubbed hub, with `env` over the test's environment. */
const scanOrgWith = (env: Record<string, string>, ...args: string[]) =>
  keymatInProcess(['scan', '--org', '--fleet-state-machine-arn', MACHINE, ...args], {
    KEYMAT_FLEET_STATE_MACHINE_ARN: '',
    AWS_PROFILE: '',
    ...env,
  });
const scanOrg = (...args: string[]) => scanOrgWith({}, ...args);
const printed = (stdout: string) => stdout.trimEnd().split('\n');
/** The summary's lines as printed: the cause from a member account with its control character escaped. */
const SUMMARY_LINES = describeFleetScan(SUMMARY).map((l) => l.replace('\u001b', '\\u001b'));

describe('keymat scan --org against a deployed hub', () => {
  it('prints the summary of the newest run that SUCCEEDED, read from its output, and calls nothing else', async () => {
    answer([listed('monday', 'SUCCEEDED', 6), listed('sunday', 'SUCCEEDED', 5)], {
      monday: { status: 'SUCCEEDED', output: JSON.stringify(SUMMARY) },
    });
    const r = await scanOrg();
    expect(r).toEqual({ code: EXIT.ok, stdout: `${SUMMARY_LINES.join('\n')}\n`, stderr: '' });
    expect(aws.calls.map((c) => [c.service, c.operation, c.input])).toEqual([
      ['SFN', 'ListExecutions', { stateMachineArn: MACHINE, maxResults: 10 }],
      ['SFN', 'DescribeExecution', { executionArn: run('monday') }],
    ]);
  });

  it('prints the summary object with --json', async () => {
    answer([listed('monday', 'SUCCEEDED', 6)], { monday: { output: JSON.stringify(SUMMARY) } });
    const r = await scanOrg('--json');
    expect(r.code).toBe(EXIT.ok);
    expect(JSON.parse(r.stdout)).toEqual(SUMMARY);
  });

  it('says that a newer run is RUNNING, with its start time, above the last summary', async () => {
    answer([listed('tuesday', 'RUNNING', 7), listed('monday', 'SUCCEEDED', 6)], {
      monday: { output: JSON.stringify(SUMMARY) },
    });
    const r = await scanOrg();
    expect(r.code).toBe(EXIT.ok);
    expect(printed(r.stdout)).toEqual([
      `fleet scan run ${run('tuesday')} is RUNNING (started 2026-12-06T07:00:00.000Z)`,
      'the last fleet scan run that SUCCEEDED:',
      ...SUMMARY_LINES,
    ]);
    // A running run has no error to read.
    expect(aws.inputs('DescribeExecution')).toEqual([{ executionArn: run('monday') }]);
  });

  it('names a newer run that FAILED with its error and cause, and exits as for an execution that did not succeed', async () => {
    answer([listed('tuesday', 'FAILED', 7), listed('monday', 'SUCCEEDED', 6)], {
      tuesday: {
        status: 'FAILED',
        error: 'States.ExceedToleratedFailureThreshold',
        cause: 'too many children failed\u0007',
      },
      monday: { output: JSON.stringify(SUMMARY) },
    });
    const r = await scanOrg();
    expect(r.code).toBe(EXIT.executionNotSucceeded);
    expect(printed(r.stdout)).toEqual([
      `fleet scan run ${run('tuesday')} ended FAILED (started 2026-12-06T07:00:00.000Z, stopped 2026-12-06T08:00:00.000Z): States.ExceedToleratedFailureThreshold: too many children failed\\u0007`,
      'the last fleet scan run that SUCCEEDED:',
      ...SUMMARY_LINES,
    ]);
  });

  it('with --json, prints the last summary on stdout and the run that did not finish on stderr', async () => {
    answer([listed('tuesday', 'TIMED_OUT', 7), listed('monday', 'SUCCEEDED', 6)], {
      tuesday: { status: 'TIMED_OUT' },
      monday: { output: JSON.stringify(SUMMARY) },
    });
    const r = await scanOrg('--json');
    expect(r.code).toBe(EXIT.executionNotSucceeded);
    expect(JSON.parse(r.stdout)).toEqual(SUMMARY);
    expect(r.stderr).toBe(
      `fleet scan run ${run('tuesday')} ended TIMED_OUT (started 2026-12-06T07:00:00.000Z, stopped 2026-12-06T08:00:00.000Z)\n`,
    );
  });

  it('looks the last SUCCEEDED run up by status when none of the newest runs succeeded', async () => {
    const aborted = Array.from({ length: 10 }, (_, i) => listed(`aborted-${i}`, 'ABORTED', 20 - i));
    aws.on('ListExecutions', (call) => ({
      output: { executions: call.input.statusFilter === 'SUCCEEDED' ? [listed('monday', 'SUCCEEDED', 6)] : aborted },
    }));
    aws.on('DescribeExecution', (call) => ({
      output: call.input.executionArn === run('monday') ? { output: JSON.stringify(SUMMARY) } : { status: 'ABORTED' },
    }));
    const r = await scanOrg();
    expect(r.code).toBe(EXIT.executionNotSucceeded);
    expect(aws.inputs('ListExecutions')).toEqual([
      { stateMachineArn: MACHINE, maxResults: 10 },
      { stateMachineArn: MACHINE, statusFilter: 'SUCCEEDED', maxResults: 1 },
    ]);
    const lines = printed(r.stdout);
    expect(lines.slice(0, 10).every((l) => / ended ABORTED \(/.test(l))).toBe(true);
    expect(lines.slice(10)).toEqual([
      '(only the newest 10 runs are listed; older ones are not shown)',
      'the last fleet scan run that SUCCEEDED:',
      ...SUMMARY_LINES,
    ]);
  });

  it('says in one line that no fleet scan has run, exiting 0 as an empty listing does (null with --json)', async () => {
    answer([]);
    expect(await scanOrg()).toEqual({
      code: EXIT.ok,
      stdout: `no fleet scan has run on ${MACHINE}\n`,
      stderr: '',
    });
    expect(await scanOrg('--json')).toEqual({ code: EXIT.ok, stdout: 'null\n', stderr: '' });
    expect(aws.calls.map((c) => c.operation)).toEqual(['ListExecutions', 'ListExecutions']);
  });

  it('says that no run SUCCEEDED when the only run failed, naming it', async () => {
    answer([listed('monday', 'FAILED', 6)], { monday: { error: 'States.Runtime', cause: 'boom' } });
    const r = await scanOrg();
    expect(r.code).toBe(EXIT.executionNotSucceeded);
    expect(printed(r.stdout)).toEqual([
      `fleet scan run ${run('monday')} ended FAILED (started 2026-12-06T06:00:00.000Z, stopped 2026-12-06T07:00:00.000Z): States.Runtime: boom`,
      `no fleet scan run of ${MACHINE} has SUCCEEDED`,
    ]);
  });

  it.each([
    [
      'a summary that lacks a field',
      JSON.stringify({ ...SUMMARY, itemsTotal: undefined }),
      'is not a Scan Completed summary: ',
    ],
    ['no JSON', 'done', "is not JSON: 'done'"],
  ])('refuses an output that is %s, naming the execution', async (_what, output, refusal) => {
    answer([listed('monday', 'SUCCEEDED', 6)], { monday: { output } });
    const r = await scanOrg();
    expect(r.code).toBe(EXIT.failed);
    expect(r.stdout).toBe('');
    expect(r.stderr).toContain(`keymat: the fleet scan run ${run('monday')} SUCCEEDED but its output ${refusal}`);
    expect(r.stderr.trimEnd().split('\n')).toHaveLength(1);
  });

  it.each([
    ['--dry-run'],
    ['--regions', 'eu-west-1'],
    ['--organizational-units', 'ou-ab12-cd34ef56'],
    ['--accounts', '444455556666'],
    ['--max-concurrency', '5'],
    ['--expires-within-days', '7'],
    ['--imported-more-than-days', '90'],
    ['--retire-tag', 'retire-on'],
    ['--no-retire-tag'],
    ['--max-changes', '3'],
    ['--describe-key-rate', '10'],
  ])('refuses %s without --local, naming it, and calls nothing', async (...option) => {
    const r = await scanOrg(...option);
    expect(r).toEqual({
      code: EXIT.failed,
      stdout: '',
      stderr: `keymat: ${option[0]} goes with --local: a deployed hub scans its configured members on its schedule, and keymat scan --org shows its runs\n`,
    });
    expect(aws.calls).toEqual([]);
  });

  it.each([[['--org', '--local']], [[]]])(
    'refuses --fleet-state-machine-arn with %j, where no deployed fleet scan is read',
    async (args) => {
      const r = await keymatInProcess(['scan', ...args, '--fleet-state-machine-arn', MACHINE], {});
      expect(r.code).toBe(EXIT.failed);
      expect(r.stderr).toBe(
        "keymat: --fleet-state-machine-arn names a deployed hub's fleet scan: it goes with --org, without --local\n",
      );
      expect(aws.calls).toEqual([]);
    },
  );
});

describe("the fleet scan's state machine", () => {
  beforeEach(() => answer([]));
  const scanOrgWith = (args: string[], env: Record<string, string>) =>
    keymatInProcess(['scan', '--org', ...args], { KEYMAT_FLEET_STATE_MACHINE_ARN: '', ...env });
  const ENV_MACHINE = 'arn:aws:states:us-west-2:111122223333:stateMachine:Other-fleet-scan';

  it('is the one --fleet-state-machine-arn names, before the environment', async () => {
    await scanOrgWith(['--fleet-state-machine-arn', MACHINE], { KEYMAT_FLEET_STATE_MACHINE_ARN: ENV_MACHINE });
    expect(aws.calls.map((c) => [c.operation, c.input.stateMachineArn])).toEqual([['ListExecutions', MACHINE]]);
  });

  it('is KEYMAT_FLEET_STATE_MACHINE_ARN without the option, with no stack looked up', async () => {
    await scanOrgWith([], { KEYMAT_FLEET_STATE_MACHINE_ARN: ENV_MACHINE });
    expect(aws.calls.map((c) => [c.operation, c.input.stateMachineArn])).toEqual([['ListExecutions', ENV_MACHINE]]);
  });

  it('is the FleetScanStateMachineArn output of the --stack-name stack, else', async () => {
    aws.on('DescribeStacks', {
      output: {
        Stacks: [
          {
            Outputs: [
              {
                OutputKey: 'StateMachineArn',
                OutputValue: 'arn:aws:states:eu-west-1:111122223333:stateMachine:Hub-deletion',
              },
              { OutputKey: 'FleetScanStateMachineArn', OutputValue: MACHINE },
            ],
          },
        ],
      },
    });
    const r = await scanOrgWith(['--stack-name', 'Hub'], {});
    expect(r.code).toBe(EXIT.ok);
    expect(aws.calls.map((c) => [c.service, c.operation, c.input])).toEqual([
      ['CloudFormation', 'DescribeStacks', { StackName: 'Hub' }],
      ['SFN', 'ListExecutions', { stateMachineArn: MACHINE, maxResults: 10 }],
    ]);
  });

  it('is refused, naming the stack and the output, when the stack has none (a hub without members)', async () => {
    aws.on('DescribeStacks', { output: { Stacks: [{ Outputs: [] }] } });
    const r = await scanOrgWith([], {});
    expect(r.stderr).toBe(
      'keymat: stack Keymat has no FleetScanStateMachineArn output: a hub has a fleet scan only when deployed with members\n',
    );
    expect(r.code).toBe(EXIT.failed);
    expect(aws.calls.map((c) => c.operation)).toEqual(['DescribeStacks']);
  });
});

describe('keymat scan --org without an AWS configuration', () => {
  const LOCAL = 'or use the local stack with --local (keymat local serve)';

  it.each([
    [{}, `Region is missing: set AWS_REGION, or AWS_PROFILE to a profile with a region, ${LOCAL}`],
    [
      { AWS_PROFILE: 'ops' },
      `Region is missing: profile ops (AWS_PROFILE) names no region: set AWS_REGION or its region, ${LOCAL}`,
    ],
  ])('says how to set a missing Region (%j)', async (env, line) => {
    aws.on('ListExecutions', { error: 'Error', message: 'Region is missing' });
    const r = await scanOrgWith(env);
    expect([r.code, r.stderr]).toEqual([EXIT.failed, `keymat: ${line}\n`]);
  });

  it.each([
    [{}, `set AWS_PROFILE to a profile with credentials, or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, ${LOCAL}`],
    [
      { AWS_PROFILE: 'ops' },
      `profile ops (AWS_PROFILE) gave no credentials: sign in with it (aws sso login --profile ops) or fix it, ${LOCAL}`,
    ],
  ])('says how to give missing credentials (%j)', async (env, hint) => {
    aws.on('ListExecutions', {
      error: 'CredentialsProviderError',
      message: 'Could not load credentials from any providers',
    });
    const r = await scanOrgWith(env);
    expect([r.code, r.stderr]).toEqual([
      EXIT.failed,
      `keymat: CredentialsProviderError: Could not load credentials from any providers: ${hint}\n`,
    ]);
  });

  it('adds no hint to an AWS refusal', async () => {
    aws.on('ListExecutions', { error: 'AccessDeniedException', message: 'not allowed' });
    expect((await scanOrg()).stderr).toBe('keymat: AccessDeniedException: not allowed\n');
  });
});
