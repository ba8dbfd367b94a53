import { SFNClient } from '@aws-sdk/client-sfn';
import { ChangeClient } from '../../core/change-client';
import { sfnCall } from '../../functions/runtime/aws';
import { LOCAL_CREDENTIALS, LOCAL_STATE_MACHINE_ARN } from '../../local/constants';
import type { OutboxMessage } from '../../local/state/records';
import { readOutbox } from '../../local/state/store';

/**
 * Waits until the execution on a served local stack asks for approval round `round` (0 for the first) and is
 * listed as pending. A readiness wait for the tests that then drive the CLI: it reads the Step Functions API
 * in-process every 50 ms, as a spawned `keymat status` would read it, without a process start per look.
 */
export async function waitForApprovalRound(endpoint: string, execution: string, round = 0): Promise<void> {
  const sfn = new SFNClient({ endpoint, region: 'us-east-1', credentials: LOCAL_CREDENTIALS });
  const changes = new ChangeClient({ sfn: sfnCall(sfn), stateMachineArn: LOCAL_STATE_MACHINE_ARN });
  try {
    for (let i = 0; i < 400; i++) {
      const look = await changes.status(execution).catch(() => undefined);
      if (
        look?.approval?.pending === true &&
        look.entered.filter((s) => s === 'RequestApproval').length === round + 1 &&
        (await changes.pending()).approvals.some((p) => p.executionArn === look.described.executionArn)
      )
        return;
      await new Promise((r) => setTimeout(r, 50));
    }
    throw new Error(`${execution} never asked for approval round ${round + 1}`);
  } finally {
    sfn.destroy();
  }
}

/**
 * A POST to a served local stack's gateway as `user`: the local stack takes the signature's access key id as the
 * signer's name, as Lambda takes the SigV4 signer's ARN.
 */
export async function gatewayAs(
  endpoint: string,
  user: string,
  route: string,
  body: unknown,
): Promise<{ status: number; body: unknown }> {
  const response = await fetch(`${endpoint}/gateway${route}`, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      authorization: `AWS4-HMAC-SHA256 Credential=${user}/20250101/us-east-1/lambda/aws4_request, SignedHeaders=host, Signature=0`,
    },
    body: JSON.stringify(body),
  });
  return { status: response.status, body: await response.json() };
}

/**
 * What `find` finds, looking every 25 ms for up to 10 s: a readiness wait for a state the stack reaches on its own.
 *
 * @throws Error naming `what` when it never appears
 */
export async function waitFor<T>(find: () => T | undefined | Promise<T | undefined>, what: string): Promise<T> {
  for (let i = 0; i < 400; i++) {
    const found = await find();
    if (found !== undefined) return found;
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error(`never saw ${what}`);
}

/**
 * The SNS messages of one kind (`event`: ApprovalRequested, RecoveryProofRequested…) that the execution published on
 * the local stack of `stateDir`, once there are `count` of them.
 */
export const published = (
  stateDir: string,
  executionArn: string,
  event: string,
  count = 1,
): Promise<[OutboxMessage, ...OutboxMessage[]]> =>
  waitFor(() => {
    const found = readOutbox(stateDir).filter(
      (m) => m.attributes.executionId === executionArn && m.attributes.event === event,
    );
    return found.length >= Math.max(count, 1) ? (found as [OutboxMessage, ...OutboxMessage[]]) : undefined;
  }, `${count} ${event} of ${executionArn}`);
