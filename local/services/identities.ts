import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import * as z from '../../core/schema';
import { LOCAL_ACCOUNT_ID, LOCAL_CREDENTIALS } from '../constants';
import type { OrganizationReader } from '../state/organization';
import { roleArn, roleCaller, userCaller, type Caller } from './caller';
import type { LocalCredentials } from './clients';
import { HUB_IDENTITIES, hubRoleName, type HubIdentity } from './internal-access';

/** A request whose session token does not authenticate it, answered as KMS answers it. */
export interface IdentityRefusal {
  refused: { status: number; type: string; message: string };
}

/** What a role session's token carries: who it is, and until when. */
export interface SessionClaims {
  accessKeyId: string;
  account: string;
  roleName: string;
  sessionName: string;
  sourceIdentity?: string;
  /** Epoch milliseconds. */
  expiresAt: number;
}

const claimsSchema = z.lazy(() =>
  z.object({
    accessKeyId: z.string(),
    account: z.string(),
    roleName: z.string(),
    sessionName: z.string(),
    sourceIdentity: z.optional(z.string()),
    expiresAt: z.number(),
  }),
);

/** Public credentials of another account (`localCredentialsFor`): the access key id ends with the account id. */
const ACCOUNT_CREDENTIALS = new RegExp(`^${LOCAL_CREDENTIALS.accessKeyId}(\\d{12})$`);

/**
 * Who signed a local request. The local stack checks no secret (its callers are on this machine), so the access key
 * id names the caller: keymat's hub functions by their own ids (`taskCredentials`), a role session by its temporary
 * credentials, an account's public user by `localCredentialsFor`, and any other id as an IAM user of the local hub
 * account. A role session's token is MACed with a key derived from keymat's internal secret, so a session cannot be
 * forged or widened by rewriting its token, and it holds across restarts of the stack.
 */
export class Identities {
  private readonly tokenKey: Buffer;
  private readonly taskPrefix: string;

  constructor(
    internal: LocalCredentials,
    private readonly organization: Pick<OrganizationReader, 'current'>,
  ) {
    this.tokenKey = createHmac('sha256', internal.secretAccessKey).update('keymat local STS session tokens').digest();
    this.taskPrefix = `${internal.accessKeyId}_`;
  }

  /** The caller of a request signed with `accessKeyId` (and `sessionToken`, for temporary credentials). */
  identify(accessKeyId: string, sessionToken: string | undefined, now = Date.now()): Caller | IdentityRefusal {
    if (sessionToken !== undefined) return this.session(accessKeyId, sessionToken, now);
    if (accessKeyId.startsWith(this.taskPrefix)) {
      const identity = accessKeyId.slice(this.taskPrefix.length);
      if ((HUB_IDENTITIES as readonly string[]).includes(identity)) {
        // A function's role session is named after the function, as Lambda names it.
        const role = hubRoleName(identity as HubIdentity);
        return roleCaller(accessKeyId, LOCAL_ACCOUNT_ID, role, role);
      }
    }
    const account = ACCOUNT_CREDENTIALS.exec(accessKeyId)?.[1];
    if (account) return { ...userCaller(LOCAL_CREDENTIALS.accessKeyId, account), accessKeyId };
    return userCaller(accessKeyId);
  }

  /** Temporary credentials for a role session (AssumeRole's answer): an `ASIA…` key id and a MACed token. */
  issue(claims: Omit<SessionClaims, 'accessKeyId'>): LocalCredentials & { sessionToken: string } {
    const accessKeyId = `ASIA${randomBytes(8).toString('hex').toUpperCase()}`;
    const payload = Buffer.from(JSON.stringify({ ...claims, accessKeyId })).toString('base64url');
    return {
      accessKeyId,
      secretAccessKey: randomBytes(30).toString('base64url'),
      sessionToken: `${payload}.${this.mac(payload)}`,
    };
  }

  private session(accessKeyId: string, token: string, now: number): Caller | IdentityRefusal {
    const [payload = '', mac = ''] = token.split('.');
    const expected = Buffer.from(this.mac(payload));
    const given = Buffer.from(mac);
    const parsed =
      given.length === expected.length && timingSafeEqual(given, expected)
        ? claimsSchema.safeParse(parseJson(Buffer.from(payload, 'base64url').toString()))
        : undefined;
    if (!parsed?.success || parsed.data.accessKeyId !== accessKeyId) {
      return refusal('UnrecognizedClientException', 'The security token included in the request is invalid.');
    }
    const claims = parsed.data;
    if (claims.expiresAt <= now) {
      return refusal('ExpiredTokenException', 'The security token included in the request is expired');
    }
    const arn = roleArn(claims.account, claims.roleName);
    // The role's permissions as they are now: a role deleted or changed since the session began acts as it is now.
    const kmsOperations = this.organization.current()?.roles.get(arn)?.kmsOperations ?? [];
    return roleCaller(accessKeyId, claims.account, claims.roleName, claims.sessionName, {
      roleArn: arn,
      sessionName: claims.sessionName,
      ...(claims.sourceIdentity !== undefined && { sourceIdentity: claims.sourceIdentity }),
      kmsOperations,
    });
  }

  private mac(payload: string): string {
    return createHmac('sha256', this.tokenKey).update(payload).digest('base64url');
  }
}

/** Whether `identify` refused the request. */
export const isRefusal = (identity: Caller | IdentityRefusal): identity is IdentityRefusal => 'refused' in identity;

const refusal = (type: string, message: string): IdentityRefusal => ({ refused: { status: 400, type, message } });

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}
