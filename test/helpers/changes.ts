import { SFNClient } from '@aws-sdk/client-sfn';
import { LOCAL_STATE_MACHINE_ARN } from '../../cli/operations';
import { ChangeClient } from '../../core/change-client';
import { LOCAL_CREDENTIALS } from '../../local/clients';

/**
 * Waits until the execution on a served local stack asks for approval round `round` (0 for the first) and is
 * listed as pending. A readiness wait for the tests that then drive the CLI: it reads the Step Functions API
 * in-process every 50 ms, as a spawned `keymat status` would read it, without a process start per look.
 */
export async function waitForApprovalRound(endpoint: string, execution: string, round = 0): Promise<void> {
  const sfn = new SFNClient({ endpoint, region: 'us-east-1', credentials: LOCAL_CREDENTIALS });
  const changes = new ChangeClient({ sfn, stateMachineArn: LOCAL_STATE_MACHINE_ARN });
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
