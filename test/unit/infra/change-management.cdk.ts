import { Match } from 'aws-cdk-lib/assertions';
import { AwsSolutionsChecks, ServerlessChecks } from 'cdk-nag';
import { grantsOf, keymatStack as synth, propsOf, stackArn } from '../../helpers/cdk-stacks';

/**
 * Change management in the stack: freeze windows (CheckChangeWindow and its hold, only with calendars), the
 * change-ticket check (invoked by ValidateOrigin alone) and the change events (each emitting function may put events
 * on the configured bus and nowhere else).
 */
const TICKET_FN = 'arn:aws:lambda:us-east-1:111122223333:function:itsm-change-check';
const CALENDAR_ARN = 'arn:aws:ssm:us-east-1:111122223333:document/quarter-end';
const context = {
  changeCalendars: `holiday-freeze,${CALENDAR_ARN}`,
  changeWindowMaxWaitSeconds: '86400',
  changeTicketCheck: TICKET_FN,
  eventBus: 'security-events',
};

type Resource = { Type: string; Properties: Record<string, any> };

const definitionOf = (t: ReturnType<typeof synth>['template']) => {
  const machine = Object.values(t.findResources('AWS::StepFunctions::StateMachine'))[0] as Resource;
  const joined = machine.Properties.DefinitionString['Fn::Join'][1] as unknown[];
  return JSON.parse(joined.map((p) => (typeof p === 'string' ? p : 'TOKEN')).join('')) as {
    States: Record<string, Record<string, any>>;
  };
};

describe('without change management configured', () => {
  const { template } = synth();

  it('has no CheckChangeWindow function and no window state: a default change makes no more transitions', () => {
    expect(
      Object.keys(template.findResources('AWS::Lambda::Function')).some((id) => id.startsWith('CheckChangeWindow')),
    ).toBe(false);
    const states = definitionOf(template).States;
    expect(states.CheckChangeWindow).toBeUndefined();
    expect(states.WaitForChangeWindow).toBeUndefined();
    // The first rule sends an approved restore to RestoreMaterial (docs/recovery.md).
    expect(states.QuorumReached?.Choices[1].Next).toBe('DeleteMaterial');
  });

  it('lets no function read calendars or invoke a ticket check', () => {
    for (const name of ['ValidateOrigin', 'RequestApproval']) {
      expect(grantsOf(template, name, 'ssm:GetCalendarState')).toEqual([]);
      expect(grantsOf(template, name, 'lambda:InvokeFunction')).toEqual([]);
    }
  });

  it('puts events on the account default bus only, from the functions that publish them', () => {
    for (const name of [
      'ValidateOrigin',
      'RequestApproval',
      'DeleteMaterial',
      'NotifyOutcome',
      'Gateway',
      'ApprovalPage',
    ]) {
      expect(grantsOf(template, name, 'events:PutEvents')).toEqual([
        expect.objectContaining({
          Resource: stackArn('events', 'event-bus/default'),
          Condition: { StringEquals: { 'events:source': 'keymat' } },
        }),
      ]);
    }
    for (const name of ['CheckState', 'VerifyPendingImport'])
      expect(grantsOf(template, name, 'events:PutEvents')).toEqual([]);
  });
});

describe('with calendars, a ticket check and a bus', () => {
  const { stack, template } = synth(context);

  it('holds approved changes in CheckChangeWindow and a callback task until the time the check names', () => {
    const states = definitionOf(template).States;
    expect(states.QuorumReached?.Choices[1].Next).toBe('CheckChangeWindow');
    expect(states.CheckChangeWindow).toMatchObject({
      Type: 'Task',
      Next: 'ChangeWindowOpen',
      ResultPath: '$.changeWindow',
    });
    expect(states.ChangeWindowOpen).toMatchObject({
      Type: 'Choice',
      Choices: [{ Variable: '$.changeWindow.state', StringEquals: 'OPEN', Next: 'DeleteMaterial' }],
      Default: 'WaitForChangeWindow',
    });
    // A token to answer (a rejection of the held change), the check's seconds as its timeout, then the check again.
    expect(states.WaitForChangeWindow).toMatchObject({
      Type: 'Task',
      Resource: 'arn:TOKEN:states:::lambda:invoke.waitForTaskToken',
      TimeoutSecondsPath: '$.changeWindow.waitSeconds',
      ResultPath: null,
      Parameters: { Payload: { 'executionId.$': '$$.Execution.Id', 'state.$': '$', 'taskToken.$': '$$.Task.Token' } },
      Next: 'CheckChangeWindow',
    });
    expect(states.WaitForChangeWindow?.Catch).toEqual([
      { ErrorEquals: ['States.Timeout'], ResultPath: null, Next: 'CheckChangeWindow' },
      { ErrorEquals: ['States.ALL'], ResultPath: '$.error', Next: 'NotifyOutcome' },
    ]);
    // Its timeout is how it ends, never retried; the invocation's own failures are.
    const retried = (states.WaitForChangeWindow?.Retry as { ErrorEquals: string[] }[]).flatMap((r) => r.ErrorEquals);
    expect(retried).toContain('Lambda.ServiceException');
    expect(retried).not.toContain('States.Timeout');
    // ChangeWindowClosed ends at NotifyOutcome like every terminal error.
    expect(states.CheckChangeWindow?.Catch).toEqual([
      { ErrorEquals: ['States.ALL'], ResultPath: '$.error', Next: 'NotifyOutcome' },
    ]);
  });

  it('configures CheckChangeWindow with the calendars and the maximum wait', () => {
    template.hasResourceProperties('AWS::Lambda::Function', {
      Environment: {
        Variables: Match.objectEquals({
          CHANGE_CALENDARS: `holiday-freeze,${CALENDAR_ARN}`,
          CHANGE_WINDOW_MAX_WAIT_SECONDS: '86400',
          NODE_OPTIONS: '--enable-source-maps',
        }),
      },
    });
  });

  it('lets only the calendar readers read exactly the named calendars', () => {
    const calendarArns = [stackArn('ssm', 'document/holiday-freeze'), CALENDAR_ARN];
    for (const name of ['ValidateOrigin', 'RequestApproval', 'CheckChangeWindow']) {
      expect(grantsOf(template, name, 'ssm:GetCalendarState')).toEqual([
        expect.objectContaining({ Resource: calendarArns }),
      ]);
    }
    for (const name of ['DeleteMaterial', 'Gateway', 'NotifyOutcome']) {
      expect(grantsOf(template, name, 'ssm:GetCalendarState')).toEqual([]);
    }
  });

  it('lets ValidateOrigin alone invoke the ticket check, that function only', () => {
    expect(grantsOf(template, 'ValidateOrigin', 'lambda:InvokeFunction')).toEqual([
      expect.objectContaining({ Resource: TICKET_FN }),
    ]);
    template.hasResourceProperties('AWS::Lambda::Function', {
      Environment: {
        Variables: Match.objectLike({ CHANGE_TICKET_FUNCTION_ARN: TICKET_FN, EVENT_BUS_NAME: 'security-events' }),
      },
    });
    for (const name of ['RequestApproval', 'DeleteMaterial', 'CheckChangeWindow']) {
      expect(grantsOf(template, name, 'lambda:InvokeFunction')).toEqual([]);
    }
  });

  it('puts events on the configured bus, of source keymat only', () => {
    expect(grantsOf(template, 'DeleteMaterial', 'events:PutEvents')).toEqual([
      expect.objectContaining({
        Resource: stackArn('events', 'event-bus/security-events'),
        Condition: { StringEquals: { 'events:source': 'keymat' } },
      }),
    ]);
  });

  it('leaves cdk-nag AwsSolutions and Serverless nothing unacknowledged', () => {
    for (const pack of [new AwsSolutionsChecks(stack.node.root), new ServerlessChecks(stack.node.root)]) {
      expect(pack.validateScope(stack).violations.map((v) => v.ruleName)).toEqual([]);
    }
  });
});

describe('change-management context', () => {
  it.each([
    [{ changeCalendars: 'bad name' }, "change calendar 'bad name' is neither an SSM document name"],
    [{ changeCalendars: 'arn:aws:s3:::bucket' }, "change calendar 'arn:aws:s3:::bucket' is neither"],
    [{ changeWindowMaxWaitSeconds: '3600' }, 'changeWindowMaxWait takes effect only with changeCalendars'],
    [
      { changeCalendars: 'freeze', changeWindowMaxWaitSeconds: '10' },
      'context changeWindowMaxWaitSeconds must be whole seconds from 1 minute to 180 days; got 10',
    ],
    [{ changeTicketCheck: 'itsm-change-check' }, 'changeTicketCheck must be a Lambda function or its ARN'],
    [{ changeTicketCheck: `${TICKET_FN}\n` }, 'changeTicketCheck must be a Lambda function or its ARN'],
    [{ eventBus: 'bus with spaces' }, "eventBus must be an EventBridge bus, or its name or ARN; got 'bus with spaces'"],
  ])('refuses %j naming the prop and the value', (ctx, message) => {
    expect(() => propsOf(ctx)).toThrow(message);
  });
});
