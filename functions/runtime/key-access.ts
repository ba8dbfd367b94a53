import { fromTemporaryCredentials } from '@aws-sdk/credential-providers';
import type { AwsCredentialIdentity } from '@smithy/types';
import type { KmsCall } from '../../core/aws-api';
import type { Scope } from '../../core/config';
import { KeymatError, errorMessage, errorName } from '../../core/errors';
import { executionNameOf } from '../../core/naming';
import {
  memberRoleArn,
  roleSessionName,
  sourceIdentity,
  type KeyPlace,
  type MemberRole,
} from '../../core/organisation';
import { createKmsClient, networkError, type AwsClientOptions } from './aws';

/** What a task acts for in a member account: the execution and its change, which the member's CloudTrail names. */
export interface ChangeSession {
  /** The execution's ARN (its name becomes the role session name). */
  executionArn: string;
  changeId: string;
}

/** KMS calls on a key in its own account and Region, for one invocation. */
export type KmsOfKey = (place: KeyPlace) => Promise<KmsCall>;

/**
 * Opens one invocation's access to keys: the member credentials assumed through it are kept for that invocation
 * alone, since their session names the execution and their SourceIdentity the change.
 */
export type KeyAccess = (session: ChangeSession) => KmsOfKey;

export interface KeyAccessOptions {
  /** The hub's own account and Region: its keys are called with the task's own credentials. */
  scope: Scope;
  /** The member role the task assumes in a member account. */
  role: MemberRole;
  /**
   * Where and as whom the task calls, besides the Region (each key's own; STS the hub's): the local stack's endpoint
   * and the task's local identity. @default the SDK's endpoints and the task role's credentials
   */
  aws?: Pick<AwsClientOptions, 'endpoint' | 'credentials'>;
  /**
   * The attempts each KMS client makes: the scan, which paces itself near the quotas, retries throttling with backoff
   * rather than scanning an account again. @default 1, the state machine retries
   */
  kmsMaxAttempts?: number;
}

/**
 * A task's access to keys across the organisation. A key of the hub's account is called with the task's own
 * credentials in the key's Region (one client per Region, made once). A key of a member account is called in its
 * Region with credentials of `role` in that account, assumed through STS in the hub's Region with the execution's name
 * as the role session name and `keymat-<change id>` as SourceIdentity, once per account and invocation. STS makes one
 * attempt, and each KMS client `kmsMaxAttempts`: the state machine retries.
 *
 * A refused AssumeRole (the role missing, or not trusting this task's role) ends the task MemberRoleUnavailable,
 * naming the account and the role; throttling, a 500 or a lost answer is left for the state machine to retry.
 */
export function createKeyAccess({ scope, role, aws = {}, kmsMaxAttempts = 1 }: KeyAccessOptions): KeyAccess {
  const hubClients = new Map<string, KmsCall>();
  const hubKms = (region: string): KmsCall => {
    let kms = hubClients.get(region);
    if (kms === undefined) {
      kms = createKmsClient({ ...aws, region, maxAttempts: kmsMaxAttempts });
      hubClients.set(region, kms);
    }
    return kms;
  };

  async function assume(roleArn: string, account: string, session: ChangeSession): Promise<AwsCredentialIdentity> {
    const provider = fromTemporaryCredentials({
      params: {
        RoleArn: roleArn,
        RoleSessionName: roleSessionName(executionNameOf(session.executionArn)),
        SourceIdentity: sourceIdentity(session.changeId),
      },
      ...(aws.credentials !== undefined && { masterCredentials: aws.credentials }),
      clientConfig: {
        region: scope.region,
        maxAttempts: 1,
        ...(aws.endpoint !== undefined && { endpoint: aws.endpoint }),
      },
    });
    try {
      return await provider();
    } catch (err) {
      const lost = networkError(err);
      if (lost) throw lost;
      // STS's own refusals are client faults; its throttling (`Throttling`) and 500s are retried by the state machine.
      const fault = (err as { $fault?: string }).$fault;
      if (fault !== 'client' || errorName(err) === 'Throttling') throw err;
      throw new KeymatError(
        'MemberRoleUnavailable',
        `STS refused role ${roleArn} in account ${account} (${errorName(err)}: ${errorMessage(err)}); the account needs keymat's member roles (deployed by the members StackSet, or its own stack in the management account) trusting this task's role`,
        { cause: err },
      );
    }
  }

  return (session) => {
    const assumed = new Map<string, Promise<AwsCredentialIdentity>>();
    const memberClients = new Map<string, KmsCall>();
    return async (place) => {
      if (place.account === scope.account) return hubKms(place.region);
      if (place.partition === undefined) {
        throw new Error(`a key of account ${place.account} must be named by its ARN, which gives its partition`);
      }
      const roleArn = memberRoleArn(place.partition, place.account, role);
      let credentials = assumed.get(roleArn);
      if (credentials === undefined) {
        credentials = assume(roleArn, place.account, session);
        assumed.set(roleArn, credentials);
        // A refusal is not kept: the next call in this invocation asks again.
        credentials.catch(() => assumed.delete(roleArn));
      }
      const resolved = await credentials;
      const where = `${roleArn} ${place.region}`;
      let kms = memberClients.get(where);
      if (kms === undefined) {
        kms = createKmsClient({ ...aws, region: place.region, credentials: resolved, maxAttempts: kmsMaxAttempts });
        memberClients.set(where, kms);
      }
      return kms;
    };
  };
}
