import type { TicketAnswer, TicketRequest } from '../../core/change-ticket';

/**
 * A change-ticket check for ServiceNow, as an example of the contract keymat's ValidateOrigin invokes (see
 * docs/change-management.md): it looks the change id up in the instance's `change_request` table (the Table API) and
 * answers APPROVED only for a change request that is approved, in the Scheduled or Implement state, inside its
 * planned window, and that names the key it is about (its ARN in the short description or the description: an
 * approved change for something else must not unlock this key). Anything else is DENIED, and a change id the table does not hold is UNKNOWN. keymat does not deploy
 * it: an organisation adapts it (its own states, its own rules) and deploys it as a function of its own.
 */

/** The `change_request` fields the check reads (internal values: `sysparm_display_value=false`, times in UTC). */
interface ChangeRequestRecord {
  sys_id: string;
  number: string;
  state: string;
  approval: string;
  start_date: string;
  end_date: string;
  short_description: string;
  description: string;
}

/** ServiceNow's change states (the state model's internal values) in which a change may be carried out. */
const IMPLEMENTABLE_STATES: Record<string, string> = { '-2': 'Scheduled', '-1': 'Implement' };

/** The other states, for the reason given with a denial. */
const STATE_NAMES: Record<string, string> = {
  '-5': 'New',
  '-4': 'Assess',
  '-3': 'Authorize',
  '0': 'Review',
  '3': 'Closed',
  '4': 'Canceled',
  ...IMPLEMENTABLE_STATES,
};

/** A ServiceNow change number, e.g. CHG0030001: nothing else is looked up (no query syntax can be smuggled in). */
const CHANGE_NUMBER = /^CHG\d{7,10}$/;

export interface ServiceNowCheckOptions {
  /** The instance, e.g. `https://example.service-now.com`. */
  instanceUrl: string;
  /** The integration user's credentials (basic authentication), read when needed (from Secrets Manager in Lambda). */
  credentials: () => Promise<{ username: string; password: string }>;
  /** @default the global fetch */
  fetch?: typeof fetch;
  /** @default the current time */
  now?: () => Date;
}

/** ServiceNow's `YYYY-MM-DD HH:mm:ss` (UTC) as a Date; undefined for an empty or malformed value. */
function serviceNowTime(value: string): Date | undefined {
  const m = /^(\d{4}-\d{2}-\d{2}) (\d{2}:\d{2}:\d{2})$/.exec(value);
  return m ? new Date(`${m[1]}T${m[2]}Z`) : undefined;
}

/** Makes the check: a function from keymat's request to its answer. */
export function createServiceNowCheck(
  options: ServiceNowCheckOptions,
): (request: TicketRequest) => Promise<TicketAnswer> {
  const instance = new URL(options.instanceUrl);
  if (instance.protocol !== 'https:') throw new Error(`instanceUrl must be https; got '${options.instanceUrl}'`);
  const fetchImpl = options.fetch ?? fetch;
  const now = options.now ?? (() => new Date());

  return async (request) => {
    if (!CHANGE_NUMBER.test(request.changeId)) {
      return { decision: 'UNKNOWN', reason: `${request.changeId} is not a ServiceNow change number (CHG and digits)` };
    }
    const url = new URL('/api/now/table/change_request', instance);
    url.searchParams.set('sysparm_query', `number=${request.changeId}`);
    url.searchParams.set(
      'sysparm_fields',
      'sys_id,number,state,approval,start_date,end_date,short_description,description',
    );
    url.searchParams.set('sysparm_display_value', 'false');
    url.searchParams.set('sysparm_limit', '1');
    const { username, password } = await options.credentials();
    const response = await fetchImpl(url, {
      headers: {
        accept: 'application/json',
        authorization: `Basic ${Buffer.from(`${username}:${password}`).toString('base64')}`,
      },
    });
    // A failure of the instance is the check failing: keymat refuses the change rather than guess.
    if (!response.ok) throw new Error(`ServiceNow answered ${response.status} for ${request.changeId}`);
    const body = (await response.json()) as { result?: ChangeRequestRecord[] };
    const record = body.result?.[0];
    if (!record || record.number !== request.changeId) {
      return { decision: 'UNKNOWN', reason: `no change request ${request.changeId} in ServiceNow` };
    }
    const link = new URL(`/nav_to.do?uri=change_request.do%3Fsys_id%3D${encodeURIComponent(record.sys_id)}`, instance)
      .href;
    const deny = (reason: string): TicketAnswer => ({ decision: 'DENIED', reason, link });
    if (record.approval !== 'approved') return deny(`the change request is ${record.approval || 'not approved'}`);
    if (!(record.state in IMPLEMENTABLE_STATES)) {
      return deny(
        `the change request is in state ${STATE_NAMES[record.state] ?? record.state}, not Scheduled or Implement`,
      );
    }
    if (![record.short_description, record.description].some((text) => text?.includes(request.keyArn))) {
      return deny(`the change request does not name key ${request.keyArn} in its description`);
    }
    const start = serviceNowTime(record.start_date);
    const end = serviceNowTime(record.end_date);
    const at = now();
    if (!start || !end || at < start || at > end) {
      return deny(
        `now (${at.toISOString()}) is outside the planned window ${record.start_date || '?'} to ${record.end_date || '?'} UTC`,
      );
    }
    return {
      decision: 'APPROVED',
      reason: `approved, ${IMPLEMENTABLE_STATES[record.state]}, planned ${record.start_date} to ${record.end_date} UTC`,
      link,
    };
  };
}
