import { KmsError, lengthConstraint, validation } from './errors';
import type { KeyRecord } from './model';
import type { CallContext, Json } from './wire';

/**
 * Key policies on the local KMS, as far as keymat's checks need them: which principals a key's policy lets call
 * which operations. A key without a policy of its own has KMS's default one (its account's root, which leaves the
 * decision to IAM: the caller's own permissions). A policy put with PutKeyPolicy (or given to CreateKey) is read for
 * its `Allow` and `Deny` statements' AWS principals and `kms:` actions; conditions and `NotPrincipal`/`NotAction` are
 * not modelled, and a policy that names no such statement lets nobody in.
 */

/** KMS's largest key policy, in characters. */
const MAX_POLICY_LENGTH = 32_768;

interface Statement {
  Effect?: unknown;
  Principal?: unknown;
  Action?: unknown;
}

const list = (value: unknown): string[] =>
  typeof value === 'string' ? [value] : Array.isArray(value) ? value.filter((v) => typeof v === 'string') : [];

/** The statements of a policy document, refused MalformedPolicyDocumentException when it is not one. */
function statementsOf(policy: string): Statement[] {
  let document: unknown;
  try {
    document = JSON.parse(policy);
  } catch {
    throw new KmsError('MalformedPolicyDocumentException', 'The new key policy is not valid JSON.');
  }
  const statements = (document as { Statement?: unknown } | null)?.Statement;
  const all = Array.isArray(statements) ? statements : statements === undefined ? [] : [statements];
  if (all.length === 0 || all.some((s) => typeof s !== 'object' || s === null)) {
    throw new KmsError('MalformedPolicyDocumentException', 'The new key policy has no statements.');
  }
  return all as Statement[];
}

/**
 * The `Policy` of a request (CreateKey's, PutKeyPolicy's) for a key of `account`, checked as KMS checks it: a policy
 * document that, unless `BypassPolicyLockoutSafetyCheck` is set, still lets the caller put the key's policy.
 */
export function checkPolicy(body: Json, account: string, ctx: CallContext): string {
  const value = body.Policy;
  if (typeof value !== 'string') throw validation('policy', undefined, 'Member must not be null');
  if (value.length < 1 || value.length > MAX_POLICY_LENGTH) {
    throw validation('policy', value, lengthConstraint(value.length, 1, MAX_POLICY_LENGTH));
  }
  statementsOf(value);
  if (body.BypassPolicyLockoutSafetyCheck !== true && !policyAllows(value, account, ctx.callerArn, 'PutKeyPolicy')) {
    throw new KmsError(
      'MalformedPolicyDocumentException',
      'The new key policy will not allow you to update the key policy in the future.',
    );
  }
  return value;
}

/** The policy KMS gives a key of `account` created without one: the account may use it through IAM. */
export const defaultKeyPolicy = (account: string): string =>
  JSON.stringify(
    {
      Version: '2012-10-17',
      Id: 'key-default-1',
      Statement: [
        {
          Sid: 'Enable IAM User Permissions',
          Effect: 'Allow',
          Principal: { AWS: `arn:aws:iam::${account}:root` },
          Action: 'kms:*',
          Resource: '*',
        },
      ],
    },
    null,
    2,
  );

/** The principal a key policy names for a caller: a role session's role, or the user itself. */
const principalOf = (callerArn: string): string => {
  const session = /^arn:(aws[a-z-]*):sts::(\d{12}):assumed-role\/([^/]+)\//.exec(callerArn);
  return session ? `arn:${session[1]}:iam::${session[2]}:role/${session[3]}` : callerArn;
};

/** Whether a statement names the caller (itself, or its account's root, which delegates to IAM) and the operation. */
function covers(statement: Statement, principal: string, account: string, operation: string): boolean {
  const principals =
    statement.Principal === '*' ? ['*'] : list((statement.Principal as { AWS?: unknown } | undefined)?.AWS);
  const named = principals.some(
    (p) => p === '*' || p === principal || p === account || p === `arn:aws:iam::${account}:root`,
  );
  const actions = list(statement.Action);
  return named && actions.some((a) => a === '*' || a === 'kms:*' || a === `kms:${operation}`);
}

/**
 * Whether the key's policy lets the caller call the operation: an `Allow` names it and no `Deny` does. A key with the
 * default policy lets everyone through to IAM, which decides.
 */
export const keyPolicyAllows = (key: KeyRecord, ctx: CallContext): boolean =>
  key.policy === undefined || policyAllows(key.policy, key.arn.split(':')[4] ?? '', ctx.callerArn, ctx.operation);

/** Whether a policy of a key of `account` lets `callerArn` call `operation`: an `Allow` names it and no `Deny` does. */
function policyAllows(policy: string, account: string, callerArn: string, operation: string): boolean {
  const principal = principalOf(callerArn);
  const statements = statementsOf(policy);
  const matching = (effect: string) =>
    statements.some((s) => s.Effect === effect && covers(s, principal, account, operation));
  return !matching('Deny') && matching('Allow');
}

/** The policy name of a PutKeyPolicy or GetKeyPolicy: only `default` exists, as in KMS. */
export function policyName(body: Json): string {
  const name = body.PolicyName ?? 'default';
  if (name !== 'default') throw new KmsError('NotFoundException', `No such policy exists: ${String(name)}`);
  return name;
}
