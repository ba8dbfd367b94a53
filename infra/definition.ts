import { App } from 'aws-cdk-lib';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { KeymatProps } from './config';
import { KeymatStack } from './keymat-stack';

type Template = { Resources: Record<string, { Type: string; Properties: Record<string, unknown> }> };
type Token = string | { Ref: string } | { 'Fn::GetAtt': [string, string] } | { 'Fn::Join': [string, Token[]] };

/** Where a definition pretends to live: its tokens resolve to ARNs in this account and Region. */
export interface DefinitionEnvironment {
  account: string;
  region: string;
}

/**
 * Synthesizes keymat's stack with the props and returns the state machine definition exactly as deployed,
 * with CloudFormation tokens resolved to literal ARNs (functions by their logical ID, topics by theirs).
 */
export function synthesizeDefinition(props: KeymatProps, env: DefinitionEnvironment): Record<string, unknown> {
  const outdir = mkdtempSync(join(tmpdir(), 'keymat-synth-'));
  try {
    // The stack is synthesized only for its definition, never deployed: CloudFormation's template validation (seconds
    // of CPU) is left to the synthesis that deploys.
    const app = new App({ outdir, builtinCloudFormationValidation: false });
    const stack = new KeymatStack(app, 'Keymat', props);
    const template = app.synth().getStackArtifact(stack.artifactId).template as Template;
    const machine = Object.values(template.Resources).find((r) => r.Type === 'AWS::StepFunctions::StateMachine');
    if (!machine) throw new Error('the synthesized stack has no state machine');
    return JSON.parse(resolve(machine.Properties.DefinitionString as Token, env)) as Record<string, unknown>;
  } finally {
    rmSync(outdir, { recursive: true, force: true });
  }
}

function resolve(token: Token, env: DefinitionEnvironment): string {
  if (typeof token === 'string') return token;
  if ('Fn::Join' in token) return token['Fn::Join'][1].map((t) => resolve(t, env)).join(token['Fn::Join'][0]);
  if ('Fn::GetAtt' in token) return `arn:aws:lambda:${env.region}:${env.account}:function:${token['Fn::GetAtt'][0]}`;
  const pseudo: Record<string, string> = {
    'AWS::Partition': 'aws',
    'AWS::Region': env.region,
    'AWS::AccountId': env.account,
    'AWS::URLSuffix': 'amazonaws.com',
  };
  const value = pseudo[token.Ref];
  if (value !== undefined) return value;
  return `arn:aws:sns:${env.region}:${env.account}:${token.Ref}`;
}
