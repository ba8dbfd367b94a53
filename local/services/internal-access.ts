import { DescribeKeyCommand, KMSClient } from '@aws-sdk/client-kms';
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as z from '../../core/schema';
import { ALL_TASK_STATES } from '../../core/tasks';
import { roleArn, userCaller, type Caller } from './caller';
import type { LocalCredentials } from './clients';
import { ATTESTATION_KEY_ALIAS, DEFAULT_REGION, INTERNAL_KEY_FILE, LOCAL_ACCOUNT_ID } from '../constants';
import { aliasAccount } from '../kms/model';
import { createSecretFile } from './secrets';
import type { KmsService } from '../kms/service';

/**
 * keymat's own identity on a local stack, standing in for the roles of its signers (the gateway, the approval page,
 * the tasks) that the deployed key policies and secret policy name: only a caller signing with the state folder's
 * internal access key id, or a hub function's identity made from it ({@link taskCredentials}), may MAC with the
 * attestation key or read the approval-link secret. The public local credentials (`LOCAL_CREDENTIALS`) and anyone's
 * `AWS_ACCESS_KEY_ID` are refused, as any other IAM user would be.
 */
export interface InternalAccess {
  /** The credentials keymat's signers sign with; kept in the state folder, mode 0600. */
  credentials: LocalCredentials;
  /** The HMAC_256 key every start and approval is attested with. */
  attestationKeyArn: string;
}

/**
 * The hub functions that get an identity of their own on a local stack: every task of the workflow, the expiry scan
 * and the fleet doctor. Each stands for that function's execution role in a deployment, so a member role's trust can
 * name some of them and not the others.
 */
export const HUB_IDENTITIES = [...ALL_TASK_STATES, 'ExpiryScan', 'OrgDoctor'] as const;

/** One of {@link HUB_IDENTITIES}. */
export type HubIdentity = (typeof HUB_IDENTITIES)[number];

/** The role a hub function's identity stands for: `keymat-<Function>` in the local hub account. */
export const hubRoleName = (identity: HubIdentity): string => `keymat-${identity}`;

/** The ARN of {@link hubRoleName}: what a member role's trust names. */
export const hubRoleArn = (identity: HubIdentity): string => roleArn(LOCAL_ACCOUNT_ID, hubRoleName(identity));

/**
 * The credentials a hub function signs with on a local stack: keymat's internal access key id with the function's
 * name appended (`KEYMATINTERNAL…_DeleteMaterial`), so they are as secret as the internal credentials and the stack
 * tells the functions apart by them (local/services/identities.ts).
 */
export const taskCredentials = (internal: LocalCredentials, identity: HubIdentity): LocalCredentials => ({
  accessKeyId: `${internal.accessKeyId}_${identity}`,
  secretAccessKey: internal.secretAccessKey,
});

/**
 * Every access key id of keymat's own: the internal one (gateway, approval page) and each hub function's but the
 * fleet doctor's, whose role in a deployment only reads through the member read role and Organizations.
 */
export const keymatAccessKeyIds = (internal: LocalCredentials): string[] => [
  internal.accessKeyId,
  ...HUB_IDENTITIES.filter((identity) => identity !== 'OrgDoctor').map(
    (identity) => taskCredentials(internal, identity).accessKeyId,
  ),
];

/**
 * Whether `caller` is one of keymat's own identities (the internal credentials, or a hub function's), which stand for
 * keymat's roles: what IAM grants only those roles on a deployed stack, the local stack allows only these callers. A
 * role session (`ASIA…`) is never one of them, whatever role it is of.
 */
export const isKeymatIdentity = (internal: LocalCredentials, caller: Caller): boolean =>
  caller.session === undefined && keymatAccessKeyIds(internal).includes(caller.accessKeyId);

const credentialsFile = z.lazy(() =>
  z.object({
    accessKeyId: z.string().check(z.regex(/^\w{16,128}$/)),
    secretAccessKey: z.string().check(z.regex(/^[\w-]{40,}$/, 'the secret is shorter than 40 characters')),
  }),
);

/**
 * The state folder's internal credentials, made on the first call (two processes starting on one folder agree on
 * the first one written) and read back after that, checked for shape.
 */
export function internalCredentials(stateDir: string): LocalCredentials {
  const file = join(stateDir, INTERNAL_KEY_FILE);
  const made = {
    accessKeyId: `KEYMATINTERNAL${randomBytes(10).toString('hex').toUpperCase()}`,
    secretAccessKey: randomBytes(30).toString('base64url'),
  };
  // Made only when missing, so a read-only state folder that has them still starts.
  if (!existsSync(file) && createSecretFile(file, JSON.stringify(made))) return made;
  const parsed = credentialsFile.safeParse(parseJson(readFileSync(file, 'utf8')));
  if (!parsed.success) {
    throw new Error(
      `${file} does not hold keymat's internal credentials (${parsed.error.issues[0]?.message}): delete it and start the local stack again`,
    );
  }
  return parsed.data;
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

/**
 * Run by the stack that owns the KMS state: finds the attestation key by its alias, or creates it (HMAC_256, origin
 * AWS_KMS) and the alias on a state folder's first start, and sets its key policy to let only keymat's own identities
 * ({@link keymatAccessKeyIds}) generate and verify MACs. Returns its ARN; the caller commits the state.
 */
export async function ensureAttestationKey(
  kms: KmsService,
  internal: LocalCredentials,
  region: string = DEFAULT_REGION,
): Promise<string> {
  const caller = userCaller(internal.accessKeyId);
  const ctx = (operation: string) => ({
    operation,
    region,
    account: caller.account,
    caller: caller.accessKeyId,
    callerArn: caller.arn,
    requestId: 'keymat-local-start',
    now: Date.now(),
  });
  const alias = kms.state.aliases.find(
    (a) => a.region === region && aliasAccount(a) === LOCAL_ACCOUNT_ID && a.aliasName === ATTESTATION_KEY_ALIAS,
  );
  let key = alias && Object.values(kms.state.keys).find((k) => k.region === region && k.keyId === alias.targetKeyId);
  if (!key) {
    const created = await kms.call(
      'CreateKey',
      {
        KeySpec: 'HMAC_256',
        KeyUsage: 'GENERATE_VERIFY_MAC',
        Description: 'keymat attestations: MACs on every change start and approval (keymat signers only)',
        Tags: [{ TagKey: 'keymat:purpose', TagValue: 'attestation' }],
      },
      ctx('CreateKey'),
      {},
    );
    const arn = (created.KeyMetadata as { Arn: string }).Arn;
    key = kms.state.keys[arn];
    if (!key) throw new Error(`the local KMS did not keep the attestation key ${arn}`);
    if (alias) kms.state.aliases = kms.state.aliases.filter((a) => a !== alias);
    await kms.call('CreateAlias', { AliasName: ATTESTATION_KEY_ALIAS, TargetKeyId: key.keyId }, ctx('CreateAlias'), {});
  }
  key.macCallers = keymatAccessKeyIds(internal);
  return key.arn;
}

/**
 * The internal access of the stack serving `stateDir` at `endpoint`, from another process or module than the stack
 * itself: the credentials from the state folder, the attestation key's ARN from its alias.
 */
export async function openInternalAccess(
  stateDir: string,
  endpoint: string,
  region: string = DEFAULT_REGION,
): Promise<InternalAccess> {
  const credentials = internalCredentials(stateDir);
  const kms = new KMSClient({ endpoint, region, credentials });
  try {
    const { KeyMetadata } = await kms.send(new DescribeKeyCommand({ KeyId: ATTESTATION_KEY_ALIAS }));
    if (!KeyMetadata?.Arn) throw new Error(`DescribeKey ${ATTESTATION_KEY_ALIAS} returned no key`);
    return { credentials, attestationKeyArn: KeyMetadata.Arn };
  } finally {
    kms.destroy();
  }
}
