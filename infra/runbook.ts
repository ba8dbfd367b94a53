import { Aws, Fn } from 'aws-cdk-lib';
import { ServicePrincipal } from 'aws-cdk-lib/aws-iam';
import { CfnDocument } from 'aws-cdk-lib/aws-ssm';
import { Construct } from 'constructs';
import type { DeletionWorkflow } from '../workflows/deletion-workflow';
import { AcknowledgingRole } from '../workflows/nag';
import { DEFAULT_WAIT_SECONDS } from '../core/defaults';
import { CHANGE_ID, KEY_ID_OR_ARN, KEY_MATERIAL_ID, MAX_WAIT_SECONDS, executionNameFor } from '../core/input';

export interface RunbookDocumentProps {
  /** The workflow the document starts changes in. */
  readonly workflow: DeletionWorkflow;
}

/** Text the document puts inside a JSON string: no quotes, backslashes or control characters. */
const JSON_SAFE_TEXT = '^[^"\\\\\\u0000-\\u001f]{1,1000}$';
const FINAL_STATUSES = ['SUCCEEDED', 'FAILED', 'TIMED_OUT', 'ABORTED'];

/**
 * An SSM Automation document that starts a deletion change and waits for its result, for runbooks and pipelines.
 * Its parameters use the patterns the CLI and ValidateOrigin check, from the same definitions.
 */
export class RunbookDocument extends Construct {
  readonly document: CfnDocument;
  readonly role: AcknowledgingRole;

  constructor(scope: Construct, id: string, props: RunbookDocumentProps) {
    super(scope, id);
    const { workflow } = props;
    const stateMachine = workflow.stateMachine;
    this.role = new AcknowledgingRole(this, 'AutomationRole', { assumedBy: new ServicePrincipal('ssm.amazonaws.com') });
    this.role.allow((grantee) => workflow.grantStartExecution(grantee));
    this.role.allow(
      (grantee) => workflow.grantRead(grantee, ['states:DescribeExecution']),
      "DescribeExecution on this workflow's own executions, to wait for the change's result",
    );

    const executionName = executionNameFor('{{ ChangeId }}');
    const executionArn = Fn.join('', [
      `arn:${Aws.PARTITION}:states:${Aws.REGION}:${Aws.ACCOUNT_ID}:execution:`,
      stateMachine.stateMachineName,
      `:${executionName}`,
    ]);
    // The execution input, with the parameters substituted by SSM; their patterns keep it valid JSON.
    const input = (withMaterial: boolean) =>
      `{"keyId":"{{ KeyId }}",${withMaterial ? '"keyMaterialId":"{{ KeyMaterialId }}",' : ''}"changeId":"{{ ChangeId }}","reason":"{{ Reason }}","requestedBy":"{{ RequestedBy }}","waitSeconds":{{ WaitSeconds }}}`;
    const start = (name: string, withMaterial: boolean) => ({
      name,
      action: 'aws:executeStateMachine',
      inputs: {
        stateMachineArn: stateMachine.stateMachineArn,
        executionName,
        input: input(withMaterial),
      },
      nextStep: 'WaitForOutcome',
    });
    const describe = { Service: 'stepfunctions', Api: 'DescribeExecution', executionArn, PropertySelector: '$.status' };

    this.document = new CfnDocument(this, 'Document', {
      documentType: 'Automation',
      documentFormat: 'JSON',
      content: {
        schemaVersion: '0.3',
        description:
          'keymat: delete imported key material under change management. Starts the deletion workflow (execution keymat-<ChangeId>: a repeated run with the same change id does not start a second change), waits for the approval and the verified result, and fails unless the change SUCCEEDED.',
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
          RequestedBy: {
            type: 'String',
            description: 'Who requests the change; cannot approve it.',
            allowedPattern: JSON_SAFE_TEXT,
          },
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
            name: 'ChooseMaterial',
            action: 'aws:branch',
            inputs: {
              Choices: [
                { NextStep: 'StartChangeOfCurrentMaterial', Variable: '{{ KeyMaterialId }}', StringEquals: '' },
              ],
              Default: 'StartChangeOfNamedMaterial',
            },
          },
          start('StartChangeOfCurrentMaterial', false),
          start('StartChangeOfNamedMaterial', true),
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
