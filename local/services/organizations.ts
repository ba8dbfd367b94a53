import { ACCOUNT_ID, ORGANIZATIONAL_UNIT_ID } from '../../core/organisation';
import { LOCAL_ACCOUNT_ID } from '../constants';
import type { AccountRecord, LocalOrganization, OrganizationReader } from '../state/organization';
import {
  jsonAnswer,
  jsonOperation,
  parseJsonBody,
  type Answer,
  type IncomingRequest,
  type LocalService,
} from './local-service';

const TARGET_PREFIX = 'AWSOrganizationsV20161128.';
const ROOT_ID = /^r-[0-9a-z]{4,32}$/;
/** The largest page Organizations answers (and its default) for the list operations served here. */
const MAX_RESULTS = 20;

/** An Organizations error: its `__type`, and its `Message` (and `Reason`, for InvalidInputException) as AWS sends them. */
class OrganizationsError extends Error {
  constructor(
    readonly type: string,
    message: string,
    readonly reason?: string,
  ) {
    super(message);
    this.name = type;
  }
}

const invalidPattern = (): OrganizationsError =>
  new OrganizationsError(
    'InvalidInputException',
    'You provided a value that does not match the required pattern.',
    'INVALID_PATTERN',
  );

/**
 * AWS Organizations for the local stack, over its JSON 1.1 protocol (`AWSOrganizationsV20161128.*`), answered from
 * the state folder's organisation (`keymat local org …`): what keymat reads to find a key's account, its name and its
 * OU path, and to list the accounts a fleet scan covers. A caller whose account is not in the organisation is refused
 * AWSOrganizationsNotInUseException; any call but DescribeOrganization needs the management account or the local hub
 * account (standing for a delegated administrator), else AccessDeniedException, as Organizations refuses a member.
 */
export class LocalOrganizations implements LocalService {
  constructor(private readonly organization: Pick<OrganizationReader, 'current'>) {}

  matches(request: IncomingRequest): boolean {
    return request.target?.startsWith(TARGET_PREFIX) ?? false;
  }

  async handle(request: IncomingRequest): Promise<Answer> {
    const { operation, log } = jsonOperation(request, TARGET_PREFIX, 'organizations');
    try {
      const body = parseJsonBody(request.body);
      if (!body) throw new OrganizationsError('SerializationException', 'The request body is not valid JSON');
      const organization = this.organization.current();
      if (!organization?.accounts.has(request.caller.account)) {
        throw new OrganizationsError(
          'AWSOrganizationsNotInUseException',
          'Your account is not a member of an organization.',
        );
      }
      const administrator = [organization.record.managementAccountId, LOCAL_ACCOUNT_ID].includes(
        request.caller.account,
      );
      if (operation !== 'DescribeOrganization' && !administrator) {
        throw new OrganizationsError('AccessDeniedException', "You don't have permissions to access this resource.");
      }
      return jsonAnswer('1.1', request.requestId, 200, answer(operation, body, organization), log());
    } catch (err) {
      if (!(err instanceof OrganizationsError)) throw err;
      const answer = jsonAnswer(
        '1.1',
        request.requestId,
        400,
        { __type: err.type, Message: err.message, ...(err.reason !== undefined && { Reason: err.reason }) },
        log(err.type),
      );
      answer.headers['x-amzn-errortype'] = err.type;
      return answer;
    }
  }
}

/** One operation's answer; a failure is thrown as {@link OrganizationsError}. */
function answer(operation: string, body: Record<string, unknown>, org: LocalOrganization): unknown {
  const { id, managementAccountId, rootId } = org.record;
  const arn = (resource: string) => `arn:aws:organizations::${managementAccountId}:${resource}`;
  const account = (a: AccountRecord) => ({
    Id: a.id,
    Arn: arn(`account/${id}/${a.id}`),
    Email: a.email,
    Name: a.name,
    Status: 'ACTIVE',
    State: 'ACTIVE',
    JoinedMethod: a.id === managementAccountId ? 'CREATED' : 'INVITED',
    JoinedTimestamp: a.joinedTimestamp / 1000,
  });
  const unit = (ouId: string) => {
    const ou = org.organizationalUnits.get(ouId);
    if (!ou)
      throw new OrganizationsError(
        'OrganizationalUnitNotFoundException',
        "You specified an organizational unit that doesn't exist.",
      );
    return { Id: ou.id, Arn: arn(`ou/${id}/${ou.id}`), Name: ou.name };
  };
  const parent = (): string => {
    const parentId = string(body, 'ParentId', (v) => ROOT_ID.test(v) || ORGANIZATIONAL_UNIT_ID.test(v));
    if (!org.isParent(parentId)) {
      throw new OrganizationsError(
        'ParentNotFoundException',
        "We can't find a root or OU with the ParentId that you specified.",
      );
    }
    return parentId;
  };
  switch (operation) {
    case 'DescribeOrganization': {
      const management = org.accounts.get(managementAccountId);
      return {
        Organization: {
          Id: id,
          Arn: arn(`organization/${id}`),
          FeatureSet: 'ALL',
          MasterAccountArn: arn(`account/${id}/${managementAccountId}`),
          MasterAccountId: managementAccountId,
          MasterAccountEmail: management?.email,
          AvailablePolicyTypes: [],
        },
      };
    }
    case 'ListRoots':
      return page(body, [{ Id: rootId, Arn: arn(`root/${id}/${rootId}`), Name: 'Root', PolicyTypes: [] }], 'Roots');
    case 'ListAccounts':
      return page(body, org.record.accounts.map(account), 'Accounts');
    case 'DescribeAccount': {
      const found = org.accounts.get(string(body, 'AccountId', (v) => ACCOUNT_ID.test(v)));
      if (!found)
        throw new OrganizationsError('AccountNotFoundException', "You specified an account that doesn't exist.");
      return { Account: account(found) };
    }
    case 'ListParents': {
      const childId = string(body, 'ChildId', (v) => ACCOUNT_ID.test(v) || ORGANIZATIONAL_UNIT_ID.test(v));
      const parentId = (org.accounts.get(childId) ?? org.organizationalUnits.get(childId))?.parentId;
      if (parentId === undefined) {
        throw new OrganizationsError(
          'ChildNotFoundException',
          "We can't find an organizational unit (OU) or AWS account with the ChildId that you specified.",
        );
      }
      return page(body, [{ Id: parentId, Type: parentId === rootId ? 'ROOT' : 'ORGANIZATIONAL_UNIT' }], 'Parents');
    }
    case 'DescribeOrganizationalUnit':
      return { OrganizationalUnit: unit(string(body, 'OrganizationalUnitId', (v) => ORGANIZATIONAL_UNIT_ID.test(v))) };
    case 'ListAccountsForParent': {
      const parentId = parent();
      return page(body, org.record.accounts.filter((a) => a.parentId === parentId).map(account), 'Accounts');
    }
    case 'ListOrganizationalUnitsForParent': {
      const parentId = parent();
      const units = org.record.organizationalUnits.filter((ou) => ou.parentId === parentId);
      return page(
        body,
        units.map((ou) => unit(ou.id)),
        'OrganizationalUnits',
      );
    }
    default:
      throw new OrganizationsError('UnknownOperationException', `Operation ${operation} is not supported locally`);
  }
}

/** A required string member that `valid` accepts: InvalidInputException as Organizations answers a bad id. */
function string(body: Record<string, unknown>, member: string, valid: (value: string) => boolean): string {
  const value = body[member];
  if (value === undefined || value === null) {
    throw new OrganizationsError('InvalidInputException', `You must specify a value for ${member}.`, 'INPUT_REQUIRED');
  }
  if (typeof value !== 'string' || !valid(value)) throw invalidPattern();
  return value;
}

/** One page of a list with Organizations' `MaxResults` (1-20) and opaque `NextToken`. */
function page(body: Record<string, unknown>, items: unknown[], member: string): Record<string, unknown> {
  const max = body.MaxResults ?? MAX_RESULTS;
  if (typeof max !== 'number' || !Number.isInteger(max) || max < 1 || max > MAX_RESULTS) {
    throw new OrganizationsError(
      'InvalidInputException',
      `You provided a value for MaxResults outside 1-${MAX_RESULTS}: ${String(max)}.`,
      'INVALID_INPUT',
    );
  }
  let start = 0;
  if (body.NextToken !== undefined && body.NextToken !== null) {
    start = typeof body.NextToken === 'string' ? Number(Buffer.from(body.NextToken, 'base64url').toString()) : NaN;
    if (!Number.isInteger(start) || start <= 0 || start > items.length) {
      throw new OrganizationsError(
        'InvalidInputException',
        'You specified an invalid value for nextToken. You must get the value from the response to a previous call to the API.',
        'INVALID_NEXT_TOKEN',
      );
    }
  }
  const end = start + max;
  return {
    [member]: items.slice(start, end),
    ...(end < items.length && { NextToken: Buffer.from(String(end)).toString('base64url') }),
  };
}
