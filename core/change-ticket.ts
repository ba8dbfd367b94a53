import { KeymatError, shown } from './errors';
import * as z from './schema';
import { cleanComment, hasUnsafeCharacters } from './text';

/**
 * The change-ticket check: a Lambda function the organisation writes, which keymat's ValidateOrigin invokes with the
 * change before any approval is asked, and which answers whether the organisation's change record (ServiceNow, Jira
 * Service Management, …) approves it. Anything but a well-formed APPROVED answer refuses the change
 * (ChangeTicketNotApproved): the check fails closed.
 */

/** The version of the request and answer below; a function can refuse a version it does not know. */
export const TICKET_CHECK_VERSION = '1';

/** What the check function receives (its event). */
export const ticketRequestSchema = z.lazy(() =>
  z.object({
    version: z.literal(TICKET_CHECK_VERSION),
    changeId: z.string(),
    keyArn: z.string(),
    keyMaterialId: z.string(),
    requestedBy: z.string(),
    reason: z.string(),
  }),
);
export type TicketRequest = z.infer<typeof ticketRequestSchema>;

/** The longest reason kept from an answer. */
const MAX_TICKET_REASON = 500;

/** The fields of the check function's answer, which the change ticket extends. */
const ticketAnswerShape = () => ({
  /** APPROVED lets the change go on to its approvals; DENIED and UNKNOWN (no such ticket) refuse it. */
  decision: z.enum(['APPROVED', 'DENIED', 'UNKNOWN']),
  /** Why, in a sentence a requester can act on. */
  reason: z.string().check(z.minLength(1), z.maxLength(2000)),
  /** The change record, for the approvers: an http(s) URL with nothing that would read differently from what it is. */
  link: z.optional(
    z
      .url({ protocol: /^https?$/ })
      .check(z.refine((link) => !hasUnsafeCharacters(link), 'must not hold control or formatting characters')),
  ),
});

/** What the check function returns. */
export const ticketAnswerSchema = z.lazy(() => z.object(ticketAnswerShape()));
export type TicketAnswer = z.infer<typeof ticketAnswerSchema>;

/** The check's result as the plan keeps it and the approval request shows it. */
export const changeTicketSchema = z.lazy(() =>
  z.object({
    ...ticketAnswerShape(),
    /** The check function that answered. */
    checkedBy: z.string(),
    checkedAt: z.string(),
  }),
);
export type ChangeTicket = z.infer<typeof changeTicketSchema>;

/**
 * Reads the check function's answer and refuses the change unless it is APPROVED. The reason is the function's text,
 * so it is cleaned of control and formatting characters before anyone sees it.
 *
 * @throws KeymatError ChangeTicketNotApproved for DENIED, UNKNOWN, or an answer that is not of this contract
 */
export function approvedTicket(raw: unknown, request: TicketRequest, checkedBy: string, now: Date): ChangeTicket {
  const parsed = ticketAnswerSchema.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const field = issue?.path.length ? issue.path.join('.') : 'answer';
    throw new KeymatError(
      'ChangeTicketNotApproved',
      `the change-ticket check ${checkedBy} gave no valid answer for change ${request.changeId} (${field}: ${issue?.message ?? 'invalid'}; got ${shown(raw).slice(0, 300)}); keymat refuses a change it cannot confirm`,
    );
  }
  const answer = parsed.data;
  const ticket: ChangeTicket = {
    decision: answer.decision,
    reason: (cleanComment(answer.reason) ?? '(no reason)').slice(0, MAX_TICKET_REASON),
    ...(answer.link !== undefined && { link: answer.link }),
    checkedBy,
    checkedAt: now.toISOString(),
  };
  if (ticket.decision !== 'APPROVED') {
    throw new KeymatError(
      'ChangeTicketNotApproved',
      `change ${request.changeId} is not approved in the change-management system (${ticket.decision}: ${ticket.reason})${ticket.link ? `; see ${ticket.link}` : ''}`,
    );
  }
  return ticket;
}

/** The ticket check in words, for the plan and the approval request. */
export const describeTicket = (ticket: ChangeTicket): string =>
  `Change ticket: ${ticket.decision} by ${ticket.checkedBy} at ${ticket.checkedAt} (${ticket.reason})${ticket.link ? ` ${ticket.link}` : ''}.`;
