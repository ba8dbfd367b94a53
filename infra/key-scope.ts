import { Aws, Token } from 'aws-cdk-lib';
import { Grant, type IGrantable } from 'aws-cdk-lib/aws-iam';
import type { IKey } from 'aws-cdk-lib/aws-kms';
import { ConfigurationError } from '../core/errors';
import { KEY_ARN } from '../core/naming';
import { refusal } from './refusals';

/**
 * Which keys the functions may read and delete from: the listed keys (KMS keys, or their ARNs), or the keys of the
 * stack's account and Region that carry a tag.
 */
export type KeyScope =
  { readonly keys: readonly (IKey | string)[] } | { readonly tag: { readonly key: string; readonly value: string } };

/**
 * Grants KMS actions on the configured keys only: the listed keys, or the keys of this account that carry the tag, in
 * this Region or the Regions given (a `key/*` resource bounded by an `aws:ResourceTag` condition).
 */
export class KeyScopeGrants {
  /**
   * Why the tag scope's `key/*` resource is not a wildcard in effect, for the cdk-nag acknowledgement of each grant.
   * Undefined for listed keys, whose grants name every key.
   */
  readonly wildcardReason?: string;
  /** The keys' ARNs, or the tag condition. */
  private readonly target: { keyArns: string[] } | { tag: { key: string; value: string } };
  /** The Regions of the tagged keys. */
  private readonly regions: readonly string[];

  /**
   * @param regions the Regions a tag scope covers, e.g. a member role's, whose stack is in one Region and whose keys
   *   are in the organisation's Regions
   * @default regions the stack's own Region
   * @throws ConfigurationError naming `keyScope` and the value, for an empty list, a malformed key ARN or an empty tag
   */
  constructor(scope: KeyScope, regions: readonly string[] = [Aws.REGION]) {
    this.regions = [...regions];
    if ('keys' in scope) {
      if (scope.keys.length === 0) {
        throw new ConfigurationError(
          'KeymatStack: keyScope lists no keys; list at least one, or scope the keys by tag',
        );
      }
      const keyArns = scope.keys.map((key) => (typeof key === 'string' ? key : key.keyArn));
      const bad = keyArns.find((arn) => !Token.isUnresolved(arn) && !KEY_ARN.test(arn));
      if (bad !== undefined) {
        throw refusal({
          owner: 'KeymatStack',
          setting: 'keyScope.keys',
          problem: ' must list KMS keys or key ARNs',
          value: bad,
        });
      }
      this.target = { keyArns };
    } else {
      if (scope.tag.key === '' || scope.tag.value === '') {
        throw refusal({
          owner: 'KeymatStack',
          setting: 'keyScope.tag',
          problem: ' must have a key and a value, neither empty',
          value: scope.tag,
        });
      }
      this.target = { tag: { ...scope.tag } };
      this.wildcardReason = `limited by the condition aws:ResourceTag/${scope.tag.key}=${scope.tag.value}: the configured key scope`;
    }
  }

  /** Grants the actions on the keys in scope to the grantee. */
  grant(grantee: IGrantable, ...actions: string[]): Grant {
    return this.grantWhere(grantee, {}, ...actions);
  }

  /**
   * Grants the actions on the keys in scope to the grantee, only where the `StringEquals` conditions hold (each key
   * one value, or a list of which one must match), e.g. the wrapping a recovery proof may ask for.
   */
  grantWhere(grantee: IGrantable, stringEquals: Record<string, string | string[]>, ...actions: string[]): Grant {
    if (actions.length === 0) throw new RangeError('a key scope grant needs at least one action; got none');
    const { target } = this;
    const conditions = (tag: Record<string, string>) => {
      const all = { ...tag, ...stringEquals };
      return Object.keys(all).length === 0 ? {} : { conditions: { StringEquals: all } };
    };
    if ('keyArns' in target) {
      return Grant.addToPrincipal({ grantee, actions, resourceArns: target.keyArns, ...conditions({}) });
    }
    return Grant.addToPrincipal({
      grantee,
      actions,
      resourceArns: this.regions.map((region) => `arn:${Aws.PARTITION}:kms:${region}:${Aws.ACCOUNT_ID}:key/*`),
      ...conditions({ [`aws:ResourceTag/${target.tag.key}`]: target.tag.value }),
    });
  }
}
