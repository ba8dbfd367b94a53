import { ServicePrincipal } from 'aws-cdk-lib/aws-iam';
import type { IFunction } from 'aws-cdk-lib/aws-lambda';
import { CfnDocument } from 'aws-cdk-lib/aws-ssm';
import { Construct } from 'constructs';
import type { DeletionWorkflow } from '../workflows/deletion-workflow';
import { AcknowledgingRole } from '../workflows/nag';
import { DEFAULT_WAIT_SECONDS } from '../core/defaults';
import { MAX_WAIT_SECONDS } from '../core/defaults';
import { CHANGE_ID, KEY_ID_OR_ARN, KEY_MATERIAL_ID } from '../core/naming';

export interface RunbookDocumentProps {
  /** The workflow whose changes the document waits for. */
  readonly workflow: DeletionWorkflow;
  /** The gateway, which starts the change for whoever ran the automation (SSM's own record of it). */
  readonly gateway: IFunction;
}

/** Text of the execution input's JSON strings: no quotes, backslashes or control characters. */
const JSON_SAFE_TEXT = '^[^"\\\\\\u0000-\\u001f]{1,1000}$';
const FINAL_STATUSES = ['SUCCEEDED', 'FAILED', 'TIMED_OUT', 'ABORTED'];

/**
 * An SSM Automation document that starts a deletion change and waits for its result, for runbooks and pipelines.
 * It starts nothing itself: it asks the gateway, with only its own execution id, and the gateway reads the parameters
 * and who ran the automation (`ExecutedBy`) from SSM's record of the execution, so the requester is the authenticated
 * caller and not a parameter anyone could type. Its parameters use the patterns the CLI and ValidateOrigin check,
 * from the same definitions.
 */
export class RunbookDocument extends Construct {
  readonly document: CfnDocument;
  readonly role: AcknowledgingRole;

  constructor(scope: Construct, id: string, props: RunbookDocumentProps) {
    super(scope, id);
    const { workflow, gateway } = props;
    this.role = new AcknowledgingRole(this, 'AutomationRole', { assumedBy: new ServicePrincipal('ssm.amazonaws.com') });
    this.role.allow(
      (grantee) => gateway.grantInvoke(grantee),
      "CDK's Function.grantInvoke: the versions and aliases of the gateway function only",
    );
    this.role.allow(
      (grantee) => workflow.grantRead(grantee, ['states:DescribeExecution']),
      "DescribeExecution on this workflow's own executions, to wait for the change's result",
    );

    const describe = {
      Service: 'stepfunctions',
      Api: 'DescribeExecution',
      executionArn: '{{ StartChange.ExecutionArn }}',
      PropertySelector: '$.status',
    };

    this.document = new CfnDocument(this, 'Document', {
      documentType: 'Automation',
      documentFormat: 'JSON',
      content: {
        schemaVersion: '0.3',
        description:
          "keymat: delete imported key material under change management. Asks keymat's gateway to start the deletion workflow for whoever runs this automation (execution keymat-<ChangeId>: a repeated run with the same change id does not start a second change), waits for the approval and the verified result, and fails unless the change SUCCEEDED.",
        assumeRole: '{{ AutomationAssumeRole }}',
        parameters: {
          KeyId: {
            type: 'String',
            description: 'Key id or key ARN (aliases are refused).',
            allowedPattern: KEY_ID_OR_ARN.source,
          },
          KeyMaterialId: {
            type: 'String',
            description: 'The KeyMaterialId to delete; empty: the current material.',
            default: '',
            allowedPattern: `^(${KEY_MATERIAL_ID.source.replace(/^\^|\$$/g, '')})?$`,
          },
          ChangeId: { type: 'String', description: 'Change id, e.g. CHG-123.', allowedPattern: CHANGE_ID.source },
          Reason: { type: 'String', description: 'Why the material is deleted.', allowedPattern: JSON_SAFE_TEXT },
          WaitSeconds: {
            type: 'Integer',
            description: `Seconds before verifying (0-${MAX_WAIT_SECONDS}).`,
            default: DEFAULT_WAIT_SECONDS,
          },
          AutomationAssumeRole: {
            type: 'String',
            description: 'The role the automation runs as.',
            default: this.role.roleArn,
          },
        },
        mainSteps: [
          {
            name: 'StartChange',
            action: 'aws:invokeLambdaFunction',
            inputs: {
              FunctionName: gateway.functionName,
              InvocationType: 'RequestResponse',
              Payload: JSON.stringify({ runbook: { automationExecutionId: '{{automation:EXECUTION_ID}}' } }),
            },
            // The gateway answers {"executionArn": "..."}.
            outputs: [{ Name: 'ExecutionArn', Selector: '$.Payload.executionArn', Type: 'String' }],
            nextStep: 'WaitForOutcome',
          },
          {
            name: 'WaitForOutcome',
            action: 'aws:waitForAwsResourceProperty',
            timeoutSeconds: 604_800,
            inputs: { ...describe, DesiredValues: FINAL_STATUSES },
          },
          {
            name: 'AssertSucceeded',
            action: 'aws:assertAwsResourceProperty',
            inputs: { ...describe, DesiredValues: ['SUCCEEDED'] },
            isEnd: true,
          },
        ],
      },
    });
  }
}
