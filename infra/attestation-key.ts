import { RemovalPolicy } from 'aws-cdk-lib';
import {
  AccountRootPrincipal,
  Effect,
  Grant,
  PolicyDocument,
  PolicyStatement,
  type IGrantable,
} from 'aws-cdk-lib/aws-iam';
import { Key, KeySpec, KeyUsage } from 'aws-cdk-lib/aws-kms';
import { Construct } from 'constructs';

/** The MAC algorithm of every attestation (the functions' attestor uses no other). */
export const MAC_ALGORITHM = 'HMAC_SHA_256';

/**
 * What the account may do with the attestation key through IAM: administer it, never use it. Deliberately without
 * kms:CreateGrant (a grant could hand GenerateMac to anyone) and without kms:GenerateMac or kms:VerifyMac.
 */
export const KEY_ADMIN_ACTIONS = [
  'kms:DescribeKey',
  'kms:GetKeyPolicy',
  'kms:ListKeyPolicies',
  'kms:PutKeyPolicy',
  'kms:GetKeyRotationStatus',
  'kms:ListResourceTags',
  'kms:TagResource',
  'kms:UntagResource',
  'kms:EnableKey',
  'kms:DisableKey',
  'kms:UpdateKeyDescription',
  'kms:ListGrants',
  'kms:RevokeGrant',
  'kms:ScheduleKeyDeletion',
  'kms:CancelKeyDeletion',
  'kms:CreateAlias',
  'kms:UpdateAlias',
  'kms:DeleteAlias',
];

/**
 * The KMS HMAC_256 key that attests starts and approvals: the gateway, the approval page and the expiry scan MAC what
 * they vouch for (`kms:GenerateMac`), ValidateOrigin and DeleteMaterial verify it (`kms:VerifyMac`).
 *
 * Its key policy is written out in full (given as `policy`, CDK adds no default statement to it) and names each
 * signer's and verifier's role: the account root gets key administration only, with no "enable IAM policies"
 * `kms:*` statement, so no IAM policy, however broad, lets anyone generate a MAC, and an IAM administrator cannot mint
 * an approval. What remains: a principal allowed `kms:PutKeyPolicy` (through IAM, via the root statement) can rewrite
 * this policy and then generate MACs; the key policy change and every GenerateMac call are recorded in CloudTrail,
 * and that trail is where such a change is caught.
 */
export class AttestationKey extends Construct {
  readonly key: Key;

  constructor(scope: Construct, id: string) {
    super(scope, id);
    this.key = new Key(this, 'Key', {
      description: 'keymat: attests change starts and approval decisions (HMAC); only keymat functions may use it',
      keySpec: KeySpec.HMAC_256,
      keyUsage: KeyUsage.GENERATE_VERIFY_MAC,
      // KMS rotates no HMAC key.
      enableKeyRotation: false,
      removalPolicy: RemovalPolicy.RETAIN,
      policy: new PolicyDocument({
        statements: [
          new PolicyStatement({
            sid: 'AccountAdministersNotUses',
            effect: Effect.ALLOW,
            principals: [new AccountRootPrincipal()],
            actions: KEY_ADMIN_ACTIONS,
            resources: ['*'],
          }),
        ],
      }),
    });
  }

  /** The key's ARN, for the functions' configuration. */
  get keyArn(): string {
    return this.key.keyArn;
  }

  /** Lets the grantee's role MAC attestations, through a key policy statement naming it (IAM cannot grant this). */
  grantGenerateMac(grantee: IGrantable): Grant {
    return this.allowInKeyPolicy(grantee, 'kms:GenerateMac');
  }

  /** Lets the grantee's role verify attestations, through a key policy statement naming it. */
  grantVerifyMac(grantee: IGrantable): Grant {
    return this.allowInKeyPolicy(grantee, 'kms:VerifyMac');
  }

  private allowInKeyPolicy(grantee: IGrantable, action: string): Grant {
    const conditions = { StringEquals: { 'kms:MacAlgorithm': MAC_ALGORITHM } };
    const statement = new PolicyStatement({
      effect: Effect.ALLOW,
      principals: [grantee.grantPrincipal],
      actions: [action],
      resources: ['*'],
      conditions,
    });
    return Grant.addStatementToResourcePolicy({
      grantee,
      actions: [action],
      resourceArns: ['*'],
      resource: this.key,
      statement,
      conditions,
    });
  }
}
