import { Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { Bucket } from 'aws-cdk-lib/aws-s3';
import { AwsSolutionsChecks, ServerlessChecks } from 'cdk-nag';
import { DEFAULT_FLEET_MAX_CONCURRENCY, DEFAULT_FLEET_TOLERATED_FAILURE_PERCENTAGE } from '../../../core/defaults';
import { FLEET_RESULTS_PREFIX } from '../../../core/naming';
import type { Members } from '../../../core/organisation';
import { FleetScan } from '../../../infra/fleet-scan';
import { KeymatFunction } from '../../../infra/keymat-function';
import { keymatStack, propsOf, testApp } from '../../helpers/cdk-stacks';

/**
 * The fleet scan in CDK: with members, the hub's scan becomes a state machine whose Distributed Map runs one child per
 * member account × Region, with its concurrency, tolerated failures and results as configured; without members there
 * is none.
 */
const MEMBERS: Members = { organizationId: 'o-a1b2c3d4e5', regions: ['eu-west-1', 'us-east-1'] };

type Definition = { StartAt: string; States: Record<string, Record<string, any>> };
/** The fleet scan state machine's definition, its tokens (the function's ARN) left as `<token>`. */
function fleetDefinition(template: Template): Definition {
  const machines = Object.entries(template.findResources('AWS::StepFunctions::StateMachine'));
  const [, machine] = machines.find(([id]) => id.includes('FleetScan'))!;
  const parts = machine.Properties.DefinitionString['Fn::Join'][1] as unknown[];
  return JSON.parse(parts.map((p) => (typeof p === 'string' ? p : '<token>')).join('')) as Definition;
}

describe('a hub with members', () => {
  const { stack, template } = keymatStack({
    members: JSON.stringify(MEMBERS),
    fleetScanMaxConcurrency: '25',
    fleetScanToleratedFailurePercentage: '40',
    scanSchedule: 'cron(0 6 * * ? *)',
    eventBus: 'keymat-audit',
  });
  const definition = fleetDefinition(template);

  it('lists the items, maps them on a Distributed Map with the configured concurrency and tolerated failures, and sums up', () => {
    expect(definition.StartAt).toBe('ListScanItems');
    expect(definition.States.ListScanItems).toMatchObject({
      Parameters: { step: 'items' },
      ResultPath: '$.inventory',
      Next: 'ScanMembers',
    });
    expect(definition.States.ScanMembers).toMatchObject({
      Type: 'Map',
      ItemsPath: '$.inventory.items',
      ItemProcessor: { ProcessorConfig: { Mode: 'DISTRIBUTED', ExecutionType: 'STANDARD' }, StartAt: 'ScanMember' },
      MaxConcurrency: 25,
      ToleratedFailurePercentage: 40,
      ResultWriter: {
        Resource: expect.stringContaining(':states:::s3:putObject'),
        Parameters: { Bucket: '<token>', Prefix: FLEET_RESULTS_PREFIX },
        WriterConfig: { OutputType: 'JSON', Transformation: 'COMPACT' },
      },
      ResultPath: '$.results',
      Next: 'SummariseScan',
    });
    expect(definition.States.SummariseScan).toMatchObject({
      Parameters: { step: 'summary', 'runArn.$': '$$.Execution.Id', 'results.$': '$.results' },
      End: true,
    });
  });

  it('keeps the results in a private bucket for a year, which only the scan function reads, under the prefix', () => {
    template.hasResourceProperties('AWS::S3::Bucket', {
      BucketEncryption: {
        ServerSideEncryptionConfiguration: [{ ServerSideEncryptionByDefault: { SSEAlgorithm: 'AES256' } }],
      },
      PublicAccessBlockConfiguration: {
        BlockPublicAcls: true,
        BlockPublicPolicy: true,
        IgnorePublicAcls: true,
        RestrictPublicBuckets: true,
      },
      LifecycleConfiguration: { Rules: [{ ExpirationInDays: 365, Status: 'Enabled' }] },
    });
    const [bucketId] = Object.keys(template.findResources('AWS::S3::Bucket'));
    const reads = Object.entries(template.findResources('AWS::IAM::Policy')).filter(([, policy]) =>
      JSON.stringify(policy.Properties.PolicyDocument).includes('"s3:GetObject"'),
    );
    // The scan function's role reads the results; the state machine's writes them (CDK's ResultWriter grant).
    const scanRead = reads.find(([id]) => id.startsWith('ExpiryScanJobExpiryScan'));
    expect(scanRead?.[1].Properties.PolicyDocument.Statement).toContainEqual({
      Effect: 'Allow',
      Action: 's3:GetObject',
      Resource: { 'Fn::Join': ['', [{ 'Fn::GetAtt': [bucketId, 'Arn'] }, `/${FLEET_RESULTS_PREFIX}/*`]] },
    });
  });

  it("hands each child its item and the run, the scan function's input as the deployed map's ItemSelector makes it", () => {
    expect(definition.States.ScanMembers!.ItemSelector).toEqual({
      step: 'scan',
      'account.$': '$$.Map.Item.Value.account',
      'region.$': '$$.Map.Item.Value.region',
      'runArn.$': '$$.Execution.Id',
      'dryRun.$': '$.dryRun',
    });
    expect(definition.States.ScanMembers!.ItemProcessor.States.ScanMember).toMatchObject({
      Type: 'Task',
      End: true,
      Retry: [expect.objectContaining({ ErrorEquals: expect.arrayContaining(['ThrottlingException', 'Throttling']) })],
    });
    expect(definition.States.ScanMembers!.ItemProcessor.States.ScanMember).not.toHaveProperty('Parameters');
  });

  it('schedules the fleet scan, not the single-account scan, and gives the scan function the members and the bus', () => {
    template.hasResourceProperties('AWS::Scheduler::Schedule', {
      ScheduleExpression: 'cron(0 6 * * ? *)',
      Target: { Arn: { Ref: Match.stringLikeRegexp('FleetScanStateMachine') }, Input: '{"dryRun":false}' },
    });
    const [, scan] = Object.entries(template.findResources('AWS::Lambda::Function')).find(([id]) =>
      id.startsWith('ExpiryScanJobExpiryScan'),
    )!;
    expect(JSON.parse(scan.Properties.Environment.Variables.KEYMAT_MEMBERS)).toEqual(MEMBERS);
    expect(scan.Properties.Environment.Variables.EVENT_BUS_NAME).toBe('keymat-audit');
  });

  it('leaves cdk-nag AwsSolutions and Serverless nothing unacknowledged', () => {
    for (const pack of [new AwsSolutionsChecks(stack.node.root), new ServerlessChecks(stack.node.root)]) {
      expect(pack.validateScope(stack).violations.map((v) => v.ruleName)).toEqual([]);
    }
  });
});

describe('a hub without members', () => {
  it('has the deletion workflow only, and schedules the scan function itself', () => {
    const { template } = keymatStack({ scanSchedule: 'cron(0 6 * * ? *)' });
    template.resourceCountIs('AWS::StepFunctions::StateMachine', 1);
    template.hasResourceProperties('AWS::Scheduler::Schedule', {
      Target: { Arn: { 'Fn::GetAtt': [Match.stringLikeRegexp('ExpiryScan'), 'Arn'] } },
    });
  });
});

describe('the FleetScan construct', () => {
  function fleet(props: Partial<ConstructorParameters<typeof FleetScan>[2]> = {}) {
    const stack = new Stack(testApp(), 'Fleet');
    const scanFunction = new KeymatFunction(stack, 'ExpiryScan', {
      config: {
        stateMachineArn: 'arn:aws:states:eu-west-1:111122223333:stateMachine:deletion',
        outcomeTopicArn: 'arn:aws:sns:eu-west-1:111122223333:outcomes',
        policyJson: '{}',
        limitsJson: '{}',
        attestationKeyArn: 'arn:aws:kms:eu-west-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab',
        scope: { account: '111122223333' },
      },
    });
    const scan = new FleetScan(stack, 'FleetScan', { scanFunction, ...props });
    return { stack, scan, template: Template.fromStack(stack) };
  }

  it('reads the items from an S3 inventory through ItemReader, and lists nothing itself', () => {
    const { template } = fleet({
      inventory: { bucket: Bucket.fromBucketName(new Stack(), 'Inventory', 'keymat-inventory'), key: 'fleet.json' },
    });
    const definition = fleetDefinition(template);
    expect(definition.StartAt).toBe('ScanMembers');
    expect(definition.States).not.toHaveProperty('ListScanItems');
    expect(definition.States.ScanMembers).toMatchObject({
      ItemReader: {
        Resource: expect.stringContaining(':states:::s3:getObject'),
        ReaderConfig: { InputType: 'JSON' },
        Parameters: { Bucket: 'keymat-inventory', Key: 'fleet.json' },
      },
    });
    expect(definition.States.ScanMembers).not.toHaveProperty('ItemsPath');
  });

  it('defaults to the shared concurrency and a tolerance of every failure', () => {
    const { States } = fleetDefinition(fleet().template);
    expect(States.ScanMembers).toMatchObject({
      MaxConcurrency: DEFAULT_FLEET_MAX_CONCURRENCY,
      ToleratedFailurePercentage: DEFAULT_FLEET_TOLERATED_FAILURE_PERCENTAGE,
    });
  });

  it.each([
    [
      'maxConcurrency',
      { maxConcurrency: 0 },
      'FleetScan: maxConcurrency must be a whole number from 1 to 10000; got 0',
    ],
    [
      'toleratedFailurePercentage',
      { toleratedFailurePercentage: 101 },
      'FleetScan: toleratedFailurePercentage must be a whole number from 0 to 100; got 101',
    ],
  ])('refuses %s out of range, naming it and the value', (_name, props, message) => {
    expect(() => fleet(props)).toThrow(message);
  });
});

describe('the fleet scan props', () => {
  it('refuses fleet scan settings without members, naming them', () => {
    expect(() => propsOf({ fleetScanMaxConcurrency: '10' })).toThrow(
      'KeymatStack: fleetScanMaxConcurrency and fleetScanToleratedFailurePercentage take effect only with members',
    );
  });

  it('reads the fleet scan settings from context', () => {
    const props = propsOf({
      members: JSON.stringify(MEMBERS),
      fleetScanMaxConcurrency: '500',
      fleetScanToleratedFailurePercentage: '5',
    });
    expect(props).toMatchObject({ fleetScanMaxConcurrency: 500, fleetScanToleratedFailurePercentage: 5 });
  });
});
