import { Stack, Validations } from 'aws-cdk-lib';
import {
  Role,
  type AddToPrincipalPolicyResult,
  type Grant,
  type IGrantable,
  type PolicyStatement,
} from 'aws-cdk-lib/aws-iam';
import type { IConstruct } from 'constructs';

/**
 * cdk-nag's AwsSolutions-IAM5 findings for policy statements, spelled as cdk-nag spells them (`Action::kms:Gen*`,
 * `Resource::arn:<AWS::Partition>:…:key/*`, `<Fn.Arn>:*`), so an acknowledgement is derived from the statement a
 * grant added rather than typed again by hand.
 */
export function wildcardFindings(scope: IConstruct, statements: readonly PolicyStatement[]): string[] {
  const findings = new Set<string>();
  for (const statement of statements) {
    const json = Stack.of(scope).resolve(statement.toStatementJson()) as {
      Effect?: string;
      Action?: string | string[];
      Resource?: unknown;
    };
    if (json.Effect !== 'Allow') continue;
    for (const action of asArray(json.Action)) {
      if (typeof action === 'string' && action.includes('*')) findings.add(`Action::${action}`);
    }
    for (const resource of asArray(json.Resource)) {
      const flat = flatten(resource);
      if (flat.includes('*')) findings.add(`Resource::${flat}`);
    }
  }
  return [...findings];
}

/** The finding of one resource, e.g. `${fn.functionArn}:*`: for grants CDK makes out of sight (task invocations). */
export function resourceFinding(scope: IConstruct, resource: string): string {
  return `Resource::${flatten(Stack.of(scope).resolve(resource))}`;
}

/** Acknowledges each finding on the construct (and so on everything under it) with the reason a reviewer needs. */
export function acknowledge(scope: IConstruct, findings: readonly string[], reason: string): void {
  for (const finding of findings) Validations.of(scope).acknowledge({ id: `AwsSolutions-IAM5[${finding}]`, reason });
}

/**
 * A role whose wildcard permissions are acknowledged where they are granted: `allow` and `acknowledging` watch the
 * statements an operation adds to this role and acknowledge the cdk-nag findings of exactly those, with the reason.
 */
export class AcknowledgingRole extends Role {
  private recording: PolicyStatement[] | undefined;

  override addToPrincipalPolicy(statement: PolicyStatement): AddToPrincipalPolicyResult {
    this.recording?.push(statement);
    return super.addToPrincipalPolicy(statement);
  }

  /**
   * Makes a grant to this role and acknowledges the wildcards of what it added.
   *
   * @param grant makes the grant, e.g. `(grantee) => topic.grantPublish(grantee)`
   * @param reason why the grant's wildcards are the design
   * @default reason none: the grant must add no wildcard
   */
  allow(grant: (grantee: IGrantable) => Grant, reason?: string): Grant {
    return this.acknowledging(reason, () => grant(this));
  }

  /**
   * Runs an operation that adds statements to this role (a construct granting itself, e.g. a traced function or a
   * scheduler target) and acknowledges the wildcards of what it added.
   *
   * @throws Error when the operation adds a wildcard and no reason is given: an unexplained wildcard fails here, at
   *   its source, rather than as an anonymous cdk-nag finding
   */
  acknowledging<T>(reason: string | undefined, operation: () => T): T {
    const outer = this.recording;
    const added: PolicyStatement[] = [];
    this.recording = added;
    try {
      const result = operation();
      outer?.push(...added);
      const findings = wildcardFindings(this, added);
      if (findings.length > 0 && reason === undefined) {
        throw new Error(
          `${this.node.path}: a grant adds ${findings.join(', ')} with no reason; pass the reason the wildcard is unavoidable, or scope the grant`,
        );
      }
      if (reason !== undefined) acknowledge(this, findings, reason);
      return result;
    } finally {
      this.recording = outer;
    }
  }
}

function asArray(value: unknown): unknown[] {
  if (value === undefined) return [];
  return Array.isArray(value) ? value : [value];
}

/** Flattens a CloudFormation value the way cdk-nag does: `Fn::Join` joined, `Ref` as `<Id>`, `Fn::GetAtt` as `<Id.Attr>`. */
function flatten(node: unknown): string {
  if (node === undefined) return '';
  if (typeof node === 'string') return node.replace(/\${/g, '<').replace(/}/g, '>');
  if (typeof node === 'object' && node !== null) {
    const o = node as Record<string, unknown>;
    if (Array.isArray(o['Fn::Join'])) {
      const [delimiter, items] = o['Fn::Join'] as [string, unknown[]];
      return items.map(flatten).join(delimiter);
    }
    if (o['Fn::Sub'] !== undefined) return flatten(o['Fn::Sub']);
    if (Array.isArray(o['Fn::GetAtt'])) {
      const [resource, attribute] = o['Fn::GetAtt'] as [unknown, unknown];
      return `<${flatten(resource)}.${flatten(attribute)}>`;
    }
    if (o['Fn::ImportValue'] !== undefined) return flatten(o['Fn::ImportValue']);
    if (o.Ref !== undefined) return `<${flatten(o.Ref)}>`;
  }
  return JSON.stringify(node);
}
