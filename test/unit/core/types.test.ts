import {
  approvalResultSchema,
  changeInputSchema,
  outcomeSchema,
  planSchema,
  workflowStateSchema,
} from '../../../core/types';
import { input, planFor, snapshot } from '../../helpers/kms-fixtures';

const plan = planFor(snapshot());
const without = (o: object, key: string): Record<string, unknown> =>
  Object.fromEntries(Object.entries(o).filter(([k]) => k !== key));
// A plan as the state machine passes it: JSON, so optional fields left undefined are gone.
const planJson = JSON.parse(JSON.stringify(plan)) as Record<string, unknown>;

describe('the plan schema', () => {
  it('accepts the plan ValidateOrigin builds, as it travels (JSON)', () => {
    expect(planSchema.parse(planJson)).toEqual(planJson);
  });

  it.each(Object.keys(planJson).filter((k) => !['currentKeyMaterialId', 'materialValidTo'].includes(k)))(
    'refuses a plan missing %s',
    (field) => {
      const parsed = planSchema.safeParse(without(planJson, field));
      expect(parsed.success).toBe(false);
      expect(parsed.error?.issues[0]?.path).toEqual([field]);
    },
  );

  it('refuses a plan whose material state is not one KMS reports', () => {
    expect(planSchema.safeParse({ ...planJson, keyMaterialState: 'GONE' }).success).toBe(false);
  });

  it('refuses a digest that is not a SHA-256 in hex', () => {
    const parsed = planSchema.safeParse({ ...planJson, digest: 'x<script>' });
    expect(parsed.error?.issues[0]?.path).toEqual(['digest']);
  });
});

describe('the other shapes', () => {
  it('accepts a parsed change input and refuses one without a requester', () => {
    expect(changeInputSchema.parse(input())).toEqual(input());
    expect(changeInputSchema.safeParse(without(input(), 'requestedBy')).success).toBe(false);
  });

  it('refuses an approval answer whose approver is not a string', () => {
    const parsed = approvalResultSchema.safeParse({
      planDigest: plan.digest,
      approvals: [{ approver: 7, at: 't', channel: 'cli' }],
    });
    expect(parsed.error?.issues[0]?.path).toEqual(['approvals', 0, 'approver']);
  });

  it('refuses an outcome with an unknown status', () => {
    expect(outcomeSchema.safeParse({ status: 'DONE', approvals: [], kmsRequestId: null }).success).toBe(false);
  });
});

describe('the workflow state at NotifyOutcome', () => {
  it('keeps every part that parses', () => {
    const state = { input: input(), plan: planJson, check: { decision: 'PROCEED' } };
    expect(workflowStateSchema.parse(state)).toEqual(state);
  });

  it('leaves out a malformed approval answer instead of failing the outcome', () => {
    const parsed = workflowStateSchema.parse({
      input: input(),
      approval: 'approved',
      error: { Error: 'ApprovalInvalid', Cause: 'approval: …' },
    });
    expect(parsed.approval).toBeUndefined();
    expect(parsed.error).toEqual({ Error: 'ApprovalInvalid', Cause: 'approval: …' });
  });

  it('takes the raw execution input of a refused change as a state with no parsed input', () => {
    const parsed = workflowStateSchema.parse({ keyId: 'alias/x', error: { Error: 'AliasNotAllowed' } });
    expect(parsed).toEqual({ error: { Error: 'AliasNotAllowed' } });
  });
});
