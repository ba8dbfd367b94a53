import { orgCommand } from '../../../cli/commands/org';
import { EXIT, type CliIo } from '../../../cli/output';
import type { LambdaCall } from '../../../core/aws-api';
import type { DoctorReport } from '../../../functions/runtime/org-doctor';

/** `keymat org doctor` against a deployed hub: it invokes the hub's fleet doctor function and prints its report. */
const FUNCTION_ARN = 'arn:aws:lambda:eu-west-1:111122223333:function:Keymat-OrgDoctor';
const REPORT: DoctorReport = {
  organizationId: 'o-a1b2c3d4e5',
  hub: { account: '111122223333', region: 'eu-west-1' },
  managementAccount: '999988887777',
  rows: [
    {
      account: '444455556666',
      accountName: 'payments',
      region: 'global',
      check: 'read role',
      verdict: 'ok',
      detail: 'keymat-member-read assumed',
    },
    {
      account: '555566667777',
      accountName: 'forgotten',
      region: 'global',
      check: 'read role',
      verdict: 'FAIL',
      detail: 'keymat-member-read cannot be assumed (AccessDenied)',
      todo: 'deploy the members StackSet',
    },
  ],
  failures: 1,
};

function io(env: CliIo['env'] = {}): CliIo & { out: string[] } {
  const out: string[] = [];
  return { out, write: (t) => void out.push(t), writeError: (t) => void out.push(t), env, exitCode: EXIT.ok };
}

/** A Lambda client that answers `answer` and records each invocation with the client's function. */
function fakeLambda(answer: { Payload?: string; FunctionError?: string }) {
  const calls: { client: string; FunctionName?: string; Payload: string }[] = [];
  const lambda = (client: string): LambdaCall =>
    (async (_operation: string, input: { FunctionName?: string; Payload?: Uint8Array }) => {
      calls.push({ client, FunctionName: input.FunctionName, Payload: new TextDecoder().decode(input.Payload) });
      return {
        ...(answer.Payload !== undefined && { Payload: new TextEncoder().encode(answer.Payload) }),
        ...(answer.FunctionError !== undefined && { FunctionError: answer.FunctionError }),
      };
    }) as unknown as LambdaCall;
  return { lambda, calls };
}

const run = (cli: CliIo, lambda: (fn: string) => LambdaCall, ...args: string[]) =>
  orgCommand(cli, { lambda }).parseAsync(['doctor', ...args], { from: 'user' });

it('invokes the named fleet doctor with an empty event, prints its table and exits 1 on its failure', async () => {
  const { lambda, calls } = fakeLambda({ Payload: JSON.stringify(REPORT) });
  const cli = io();
  await run(cli, lambda, '--function', FUNCTION_ARN);
  expect(calls).toEqual([{ client: FUNCTION_ARN, FunctionName: FUNCTION_ARN, Payload: '{}' }]);
  expect(cli.out.join('').split('\n')).toEqual([
    `organisation o-a1b2c3d4e5 (management account 999988887777), checked from the hub 111122223333 eu-west-1 as the role of ${FUNCTION_ARN}:`,
    'account                 Region  check      verdict                                                    what to do',
    '444455556666 payments   global  read role  ok: keymat-member-read assumed',
    '555566667777 forgotten  global  read role  FAIL: keymat-member-read cannot be assumed (AccessDenied)  deploy the members StackSet',
    '1 failure',
    '',
  ]);
  expect(cli.exitCode).toBe(EXIT.failed);
});

it('takes the function from KEYMAT_ORG_DOCTOR_FUNCTION and prints the report as JSON with --json', async () => {
  const healthy = { ...REPORT, rows: REPORT.rows.slice(0, 1), failures: 0 };
  const { lambda, calls } = fakeLambda({ Payload: JSON.stringify(healthy) });
  const cli = io({ KEYMAT_ORG_DOCTOR_FUNCTION: 'Keymat-OrgDoctor' });
  await run(cli, lambda, '--json');
  expect(calls.map((c) => c.FunctionName)).toEqual(['Keymat-OrgDoctor']);
  expect(JSON.parse(cli.out.join(''))).toEqual(healthy);
  expect(cli.exitCode).toBe(EXIT.ok);
});

it("refuses with the function's error when the doctor fails, printing no table", async () => {
  const { lambda } = fakeLambda({
    FunctionError: 'Unhandled',
    Payload: JSON.stringify({ errorType: 'AccessDeniedException', errorMessage: 'not authorized' }),
  });
  const cli = io();
  await expect(run(cli, lambda, '--function', FUNCTION_ARN)).rejects.toThrow(
    expect.objectContaining({
      name: 'CliError',
      message: `the fleet doctor ${FUNCTION_ARN} failed: AccessDeniedException: not authorized`,
    }),
  );
  expect(cli.out).toEqual([]);
});

it('refuses --members and --regions without --local, invoking nothing', async () => {
  const { lambda, calls } = fakeLambda({ Payload: JSON.stringify(REPORT) });
  await expect(run(io(), lambda, '--function', FUNCTION_ARN, '--regions', 'eu-west-1')).rejects.toThrow(
    expect.objectContaining({
      name: 'CliError',
      message: expect.stringContaining('--members and --regions go with --local'),
    }),
  );
  expect(calls).toEqual([]);
});
