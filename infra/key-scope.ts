import { Aws } from 'aws-cdk-lib';
import { Grant, type IGrantable } from 'aws-cdk-lib/aws-iam';
import type { KeyScope } from './config';

/**
 * Grants KMS actions on the configured keys only: the listed key ARNs, or the keys of this account and Region that
 * carry the tag (a `key/*` resource bounded by an `aws:ResourceTag` condition).
 */
export class KeyScopeGrants {
  /**
   * Why the tag scope's `key/*` resource is not a wildcard in effect, for the cdk-nag acknowledgement of each grant.
   * Undefined for listed ARNs, whose grants name every key.
   */
  readonly wildcardReason?: string;

  constructor(private readonly scope: KeyScope) {
    if ('keyArns' in scope && scope.keyArns.length === 0) {
      throw new RangeError('the key scope lists no key ARNs; list at least one, or scope the keys by tag');
    }
    if ('tag' in scope) {
      this.wildcardReason = `limited by the condition aws:ResourceTag/${scope.tag.key}=${scope.tag.value}: the configured key scope`;
    }
  }

  /** Grants the actions on the keys in scope to the grantee. */
  grant(grantee: IGrantable, ...actions: string[]): Grant {
    if (actions.length === 0) throw new RangeError('a key scope grant needs at least one action; got none');
    if ('keyArns' in this.scope) return Grant.addToPrincipal({ grantee, actions, resourceArns: this.scope.keyArns });
    return Grant.addToPrincipal({
      grantee,
      actions,
      resourceArns: [`arn:${Aws.PARTITION}:kms:${Aws.REGION}:${Aws.ACCOUNT_ID}:key/*`],
      conditions: { StringEquals: { [`aws:ResourceTag/${this.scope.tag.key}`]: this.scope.tag.value } },
    });
  }
}
