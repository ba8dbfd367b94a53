import type { OrganizationReader } from '../state/organization';
import { roleId } from './caller';
import type { Identities } from './identities';
import { xmlAnswer, type Answer, type IncomingRequest, type LocalService } from './local-service';

const escapeXml = (s: string): string =>
  s.replace(/[<>&'"]/g, (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', "'": '&apos;', '"': '&quot;' })[c] ?? c);

const NS = 'https://sts.amazonaws.com/doc/2011-06-15/';

/** The characters STS allows in a role session name and a SourceIdentity. */
const SESSION_WORD = /^[\w+=,.@-]*$/;
const ROLE_ARN = /^arn:aws:iam::(\d{12}):role\/([\w+=,.@-]{1,64})$/;
/** A role's maximum session duration when it sets none, as IAM's default. */
const MAX_SESSION_SECONDS = 3600;

/** An STS error answer (query protocol): `Sender` faults with their code and message. */
const stsError = (request: IncomingRequest, status: number, code: string, message: string, operation: string): Answer =>
  xmlAnswer(
    request.requestId,
    status,
    `<ErrorResponse xmlns="${NS}"><Error><Type>Sender</Type><Code>${code}</Code><Message>${escapeXml(message)}</Message></Error><RequestId>${request.requestId}</RequestId></ErrorResponse>`,
    { service: 'sts', operation, error: code },
  );

/**
 * STS for the local stack. GetCallerIdentity answers who signed the request (so `AWS_ACCESS_KEY_ID=bob keymat
 * approve …` acts as bob, as a second identity would against AWS). AssumeRole enforces the role's trust as IAM does:
 * the role must exist in the state folder's organisation (`keymat local org add-account`), name the caller's principal
 * in its trust, and (its `aws:PrincipalOrgID` condition) find the caller's account in its organisation; else the call
 * is refused AccessDenied, a missing role in the same words as an untrusted caller. The session's temporary
 * credentials then act in the role's account with the role's permissions, and carry its SourceIdentity to every call.
 */
export class LocalSts implements LocalService {
  constructor(
    private readonly identities: Pick<Identities, 'issue'>,
    private readonly organization: Pick<OrganizationReader, 'current'>,
  ) {}

  matches(request: IncomingRequest): boolean {
    return request.service === 'sts';
  }

  async handle(request: IncomingRequest): Promise<Answer> {
    const params = new URLSearchParams(request.body);
    const action = params.get('Action');
    if (action === 'GetCallerIdentity') return this.getCallerIdentity(request);
    if (action === 'AssumeRole') return this.assumeRole(request, params);
    return stsError(request, 400, 'InvalidAction', `${action ?? ''} is not supported locally`, action ?? '');
  }

  private getCallerIdentity(request: IncomingRequest): Answer {
    const { caller, requestId } = request;
    return xmlAnswer(
      requestId,
      200,
      `<GetCallerIdentityResponse xmlns="${NS}"><GetCallerIdentityResult><Arn>${escapeXml(caller.arn)}</Arn><UserId>${escapeXml(caller.userId)}</UserId><Account>${caller.account}</Account></GetCallerIdentityResult><ResponseMetadata><RequestId>${requestId}</RequestId></ResponseMetadata></GetCallerIdentityResponse>`,
    );
  }

  private assumeRole(request: IncomingRequest, params: URLSearchParams): Answer {
    const refuse = (status: number, code: string, message: string) =>
      stsError(request, status, code, message, 'AssumeRole');
    const roleArn = params.get('RoleArn');
    const sessionName = params.get('RoleSessionName');
    const asked = params.get('SourceIdentity') ?? undefined;
    const duration = params.get('DurationSeconds');
    const problems = [
      ...memberProblems('roleArn', roleArn, 20, 2048),
      ...memberProblems('roleSessionName', sessionName, 2, 64, SESSION_WORD),
      ...(asked === undefined ? [] : memberProblems('sourceIdentity', asked, 2, 64, SESSION_WORD)),
      ...(duration === null ? [] : durationProblems(duration)),
    ];
    if (problems.length > 0 || roleArn === null || sessionName === null) {
      const count = `${problems.length} validation error${problems.length === 1 ? '' : 's'} detected`;
      return refuse(400, 'ValidationError', `${count}: ${problems.join('; ')}`);
    }
    const [, account = '', roleName = ''] = ROLE_ARN.exec(roleArn) ?? [];
    // AWS's text for a malformed role ARN is not recorded: worded after its other validation errors.
    if (!account)
      return refuse(400, 'ValidationError', `${roleArn} is not a valid role ARN (arn:aws:iam::ACCOUNT:role/NAME)`);
    const seconds = duration === null ? MAX_SESSION_SECONDS : Number(duration);
    if (seconds > MAX_SESSION_SECONDS) {
      return refuse(
        400,
        'ValidationError',
        'The requested DurationSeconds exceeds the MaxSessionDuration set for this role.',
      );
    }

    const { caller } = request;
    const organization = this.organization.current();
    const role = organization?.roles.get(roleArn);
    const inOrganization =
      role?.principalOrgId === undefined ||
      (organization?.record.id === role.principalOrgId && organization.accounts.has(caller.account));
    // A SourceIdentity stays with a session through role chaining: it may be repeated, never changed.
    const inherited = caller.session?.sourceIdentity;
    if (
      !role ||
      !role.trust.includes(caller.principalArn) ||
      !inOrganization ||
      (inherited && asked && asked !== inherited)
    ) {
      return refuse(
        403,
        'AccessDenied',
        `User: ${caller.arn} is not authorized to perform: sts:AssumeRole on resource: ${roleArn}`,
      );
    }
    const sourceIdentity = asked ?? inherited;
    const expiresAt = Math.floor(Date.now() / 1000 + seconds) * 1000;
    const credentials = this.identities.issue({
      account,
      roleName,
      sessionName,
      ...(sourceIdentity !== undefined && { sourceIdentity }),
      expiresAt,
    });
    const assumedArn = `arn:aws:sts::${account}:assumed-role/${roleName}/${sessionName}`;
    return xmlAnswer(
      request.requestId,
      200,
      `<AssumeRoleResponse xmlns="${NS}"><AssumeRoleResult>` +
        (sourceIdentity === undefined ? '' : `<SourceIdentity>${escapeXml(sourceIdentity)}</SourceIdentity>`) +
        `<AssumedRoleUser><Arn>${escapeXml(assumedArn)}</Arn><AssumedRoleId>${roleId(account, roleName)}:${escapeXml(sessionName)}</AssumedRoleId></AssumedRoleUser>` +
        `<Credentials><AccessKeyId>${credentials.accessKeyId}</AccessKeyId><SecretAccessKey>${credentials.secretAccessKey}</SecretAccessKey><SessionToken>${credentials.sessionToken}</SessionToken><Expiration>${new Date(expiresAt).toISOString().replace('.000Z', 'Z')}</Expiration></Credentials>` +
        `</AssumeRoleResult><ResponseMetadata><RequestId>${request.requestId}</RequestId></ResponseMetadata></AssumeRoleResponse>`,
      { service: 'sts', operation: 'AssumeRole' },
    );
  }
}

/** STS's validation texts for one string member: null, too short or long, or outside its pattern. */
function memberProblems(member: string, value: string | null, min: number, max: number, pattern?: RegExp): string[] {
  if (value === null) return [`Value null at '${member}' failed to satisfy constraint: Member must not be null`];
  const at = `Value '${value}' at '${member}' failed to satisfy constraint:`;
  if (value.length < min) return [`${at} Member must have length greater than or equal to ${min}`];
  if (value.length > max) return [`${at} Member must have length less than or equal to ${max}`];
  if (pattern && !pattern.test(value)) {
    return [`${at} Member must satisfy regular expression pattern: [\\w+=,.@-]*`];
  }
  return [];
}

function durationProblems(value: string): string[] {
  const seconds = Number(value);
  const at = `Value '${value}' at 'durationSeconds' failed to satisfy constraint:`;
  if (!Number.isInteger(seconds)) return [`${at} Member must be a whole number of seconds`];
  if (seconds < 900) return [`${at} Member must have value greater than or equal to 900`];
  if (seconds > 43200) return [`${at} Member must have value less than or equal to 43200`];
  return [];
}
