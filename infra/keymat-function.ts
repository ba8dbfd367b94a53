import { Duration, Validations } from 'aws-cdk-lib';
import { Grant, ServicePrincipal, type IGrantable, type IPrincipal } from 'aws-cdk-lib/aws-iam';
import { Architecture, Code, Function as LambdaFunction, Runtime, Tracing } from 'aws-cdk-lib/aws-lambda';
import { LogGroup, RetentionDays } from 'aws-cdk-lib/aws-logs';
import type { ITopic } from 'aws-cdk-lib/aws-sns';
import { Construct } from 'constructs';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { environmentOf, type DeployedConfig, type FunctionName } from '../core/config';
import { AcknowledgingRole } from '../workflows/nag';
import type { KeyScopeGrants } from './key-scope';

/** The folder of a function's bundle, named after the function: `DeleteMaterial` → `delete-material`. */
export const functionFolderName = (name: FunctionName): string =>
  name.replace(/([a-z])([A-Z])/g, '$1-$2').toLowerCase();

/** The bundle's file in its folder: an ES module, which the Lambda runtime imports for the handler `index.handler`. */
export const FUNCTION_BUNDLE_FILE = 'index.mjs';

/**
 * Where `npm run build` put a function's bundle (dist/functions/<folder>/index.mjs): beside this code in the package
 * (dist/cdk is the construct library), or under the checkout's dist/ when the stack is built from the sources.
 *
 * @throws Error when the bundle is missing: synthesis bundles nothing, the build does
 */
export function functionBundle(name: FunctionName): string {
  const folder = functionFolderName(name);
  const candidates = [join(__dirname, '..', 'functions', folder), join(__dirname, '..', 'dist', 'functions', folder)];
  const found = candidates.find((dir) => existsSync(join(dir, FUNCTION_BUNDLE_FILE)));
  if (!found) {
    throw new Error(
      `${name}: no function bundle at ${candidates.map((dir) => join(dir, FUNCTION_BUNDLE_FILE)).join(' or ')}; run npm run build`,
    );
  }
  return found;
}

export interface KeymatFunctionProps<N extends FunctionName> {
  /** The function's configuration: it becomes the function's environment through `environmentOf`. */
  readonly config: DeployedConfig<N>;
  /** @default Duration.seconds(30) */
  readonly timeout?: Duration;
  /** @default RetentionDays.ONE_YEAR */
  readonly logRetention?: RetentionDays;
  /**
   * The role's name, fixed: for the roles other accounts' trust policies name (the member roles trust the hub's acting
   * functions by ARN).
   * @default a name CloudFormation generates
   */
  readonly roleName?: string;
  /**
   * Calls AWS through FIPS endpoints: sets `AWS_USE_FIPS_ENDPOINT=true`, which the SDK reads to resolve each
   * service's FIPS endpoint in the function's Region.
   * @default false
   */
  readonly fips?: boolean;
}

/**
 * Why no function is traced by X-Ray, for the cdk-nag acknowledgement on each: Powertools Tracer would bring
 * aws-xray-sdk-core (CommonJS) into every cold start, beyond keymat's start-up budget, while what an auditor needs of
 * each AWS call is in CloudTrail (keymat records the KMS request id) and the execution history. The state machine
 * keeps its own X-Ray tracing, which shows each task's timing.
 */
export const UNTRACED_REASON =
  "tracing would load aws-xray-sdk-core (CommonJS) in every cold start, beyond keymat's start-up budget; each AWS call is in CloudTrail (keymat records the KMS request id) and the execution history, and the state machine's own X-Ray tracing shows each task's timing";

/**
 * One keymat function, with everything it owns: its own role writing only to its own log group (not the managed
 * basic execution policy), arm64, the current Node runtime, and the bundle `npm run build` made, with the SDK v3
 * clients it uses in it at the version the package pins (the runtime's own SDK may predate KeyMaterialId and
 * GetKeyLastUsage). Stack traces point at the sources (`--enable-source-maps`). The construct's id is the function's
 * name, which names its folder under functions/ and its configuration.
 *
 * Permissions are granted through its `grant*` methods, which acknowledge a grant's cdk-nag wildcard findings in the
 * same call, with the reason: what the function may do is written once.
 */
export class KeymatFunction<N extends FunctionName = FunctionName> extends Construct implements IGrantable {
  readonly fn: LambdaFunction;
  readonly role: AcknowledgingRole;
  readonly logGroup: LogGroup;
  readonly grantPrincipal: IPrincipal;

  constructor(scope: Construct, id: N, props: KeymatFunctionProps<N>) {
    const timeout = props.timeout ?? Duration.seconds(30);
    // Before super: a refused function leaves nothing in the tree.
    if (timeout.toMilliseconds() < 1000 || timeout.toSeconds({ integral: false }) > 900) {
      throw new RangeError(`${id}: timeout must be from 1 to 900 seconds; got ${timeout.toHumanString()}`);
    }
    super(scope, id);
    this.role = new AcknowledgingRole(this, 'Role', {
      assumedBy: new ServicePrincipal('lambda.amazonaws.com'),
      ...(props.roleName !== undefined && { roleName: props.roleName }),
    });
    this.grantPrincipal = this.role;
    this.logGroup = new LogGroup(this, 'Logs', { retention: props.logRetention ?? RetentionDays.ONE_YEAR });
    this.role.allow((grantee) => this.logGroup.grantWrite(grantee));
    // The function is the default child so that it keeps the logical ID it had as a direct child of the stack.
    this.fn = new LambdaFunction(this, 'Default', {
      role: this.role,
      // The bundle the build made (minified, with source maps and the SDK clients): the same code every time.
      code: Code.fromAsset(functionBundle(id)),
      handler: 'index.handler',
      runtime: Runtime.NODEJS_24_X,
      architecture: Architecture.ARM_64,
      memorySize: 256,
      timeout,
      environment: {
        ...environmentOf(id, props.config),
        NODE_OPTIONS: '--enable-source-maps',
        ...(props.fips === true && { AWS_USE_FIPS_ENDPOINT: 'true' }),
      },
      logGroup: this.logGroup,
      tracing: Tracing.DISABLED,
    });
    Validations.of(this.fn).acknowledge({ id: 'Serverless-LambdaTracing', reason: UNTRACED_REASON });
    Validations.of(this.fn).acknowledge({
      id: 'Serverless-LambdaDLQ',
      reason:
        'invoked synchronously (by Step Functions, whose Retry and Catch handle failures, or by the scheduler, whose summary reports the run); a DLQ applies only to asynchronous invocations',
    });
  }

  /**
   * Makes a grant to this function, acknowledging the cdk-nag wildcard findings of the statements it adds.
   *
   * @param grant makes the grant, e.g. `(grantee) => secret.grantRead(grantee)`
   * @param wildcardReason why the grant's wildcards are unavoidable
   * @default wildcardReason none: a grant that adds a wildcard throws
   */
  grant(grant: (grantee: IGrantable) => Grant, wildcardReason?: string): Grant {
    return this.role.allow(grant, wildcardReason);
  }

  /**
   * Grants actions that support no resource scoping (`Resource: *`), with the reason for the acknowledgement.
   *
   * @param reason which actions have no resource type, e.g. 'kms:ListAliases supports no resource scoping'
   */
  grantUnscoped(actions: string[], reason: string): Grant {
    return this.grant((grantee) => Grant.addToPrincipal({ grantee, actions, resourceArns: ['*'] }), reason);
  }

  /** Grants KMS actions on the configured keys only. */
  grantKeys(keys: KeyScopeGrants, ...actions: string[]): Grant {
    return this.grant((grantee) => keys.grant(grantee, ...actions), keys.wildcardReason);
  }

  /** Grants KMS actions on the keys in scope where the `StringEquals` conditions hold (`KeyScopeGrants.grantWhere`). */
  grantKeysWhere(keys: KeyScopeGrants, stringEquals: Record<string, string | string[]>, ...actions: string[]): Grant {
    return this.grant((grantee) => keys.grantWhere(grantee, stringEquals, ...actions), keys.wildcardReason);
  }

  /** Grants publishing to a topic, and the use of its KMS key when it is encrypted. */
  grantPublish(topic: ITopic): Grant {
    return this.grant(
      (grantee) => topic.grantPublish(grantee),
      "CDK's Topic.grantPublish for a KMS-encrypted topic (kms:GenerateDataKey*); limited to that topic's own key",
    );
  }
}
