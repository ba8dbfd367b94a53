import { App, type AppProps } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { propsFromContext, resolveProps, type ResolvedProps } from '../../infra/config';
import { KeymatStack } from '../../infra/keymat-stack';

export interface SynthesizedStack {
  stack: KeymatStack;
  template: Template;
}

/** The test apps' output folders. */
const outdirs: string[] = [];

/**
 * An app for tests that read what they synthesize. Two of aws-cdk-lib's synthesis steps are left out:
 * - bundling: the tests read the template, not the code;
 * - the built-in CloudFormation template validation, which costs about two seconds of CPU per synthesis. It runs where
 *   the template is deployed from: the `cdk synth` of the real app (test/unit/infra/stack.cdk.ts), whose test fails on
 *   any finding in its report.
 * Its output folder is removed by {@link removeSynthesizedOutput}.
 */
export function testApp(props: Omit<AppProps, 'outdir'> = {}): App {
  const outdir = mkdtempSync(join(tmpdir(), 'keymat-infra-'));
  outdirs.push(outdir);
  return new App({
    ...props,
    outdir,
    builtinCloudFormationValidation: false,
    context: { ...props.context, 'aws:cdk:bundling-stacks': [] },
  });
}

const synthesized = new Map<string, SynthesizedStack>();

/**
 * keymat's stack built with a CDK context (through the context adapter, as infra/app.ts builds it), and its template. Each context is synthesized once per jest suite and the
 * result shared by every test that asks for it (a synthesis takes about a second): the tests only read it.
 */
export function keymatStack(context: Record<string, string> = {}): SynthesizedStack {
  const id = JSON.stringify(Object.entries(context).sort(([a], [b]) => a.localeCompare(b)));
  const known = synthesized.get(id);
  if (known) return known;
  const app = testApp({ context });
  const stack = new KeymatStack(
    app,
    'Keymat',
    propsFromContext((name) => app.node.tryGetContext(name)),
  );
  const result = { stack, template: Template.fromStack(stack) };
  synthesized.set(id, result);
  return result;
}

/**
 * The props a CDK context makes, resolved and checked as the stack does before it builds anything: for the tests of
 * the context adapter and of the checks, which need no synthesis.
 */
export const propsOf = (context: Record<string, string>): ResolvedProps =>
  resolveProps(propsFromContext((name) => context[name]));

/** Removes the test apps' output folders: for the suite's afterAll. */
export function removeSynthesizedOutput(): void {
  for (const dir of outdirs.splice(0)) rmSync(dir, { recursive: true, force: true });
}

/** An ARN in the stack's own account and Region as CloudFormation renders it: `arn:<partition>:<service>:<region>:<account>:<resource>`. */
export const stackArn = (service: string, resource: string) => ({
  'Fn::Join': [
    '',
    [
      'arn:',
      { Ref: 'AWS::Partition' },
      `:${service}:`,
      { Ref: 'AWS::Region' },
      ':',
      { Ref: 'AWS::AccountId' },
      `:${resource}`,
    ],
  ],
});

/** One IAM statement as the template holds it. */
export interface TemplateStatement {
  Action: string | string[];
  Resource: unknown;
  Condition?: unknown;
}

type TemplateResource = { Type: string; Properties: Record<string, any> };

/**
 * The IAM statements attached to the role of the function whose logical id starts with `name` (a task's state name,
 * `Gateway`, …). A name no function has fails the test rather than reading as "no statements".
 */
export function statementsOf(t: Template, name: string): TemplateStatement[] {
  const fn = Object.entries(t.findResources('AWS::Lambda::Function')).find(([id]) => id.startsWith(name))?.[1] as
    TemplateResource | undefined;
  if (!fn) throw new Error(`the template has no function ${name}`);
  const roleId = fn.Properties.Role['Fn::GetAtt'][0];
  return (Object.values(t.findResources('AWS::IAM::Policy')) as TemplateResource[])
    .filter((p) => p.Properties.Roles.some((r: { Ref: string }) => r.Ref === roleId))
    .flatMap((p) => p.Properties.PolicyDocument.Statement as TemplateStatement[]);
}

/** The statements of a function's role that allow `action`. */
export const grantsOf = (t: Template, name: string, action: string): TemplateStatement[] =>
  statementsOf(t, name).filter((s) => (Array.isArray(s.Action) ? s.Action : [s.Action]).includes(action));
