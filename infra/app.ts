import { App, Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks, ServerlessChecks } from 'cdk-nag';
// The construct library's own entry point (`keymat/cdk`): this app builds keymat as a CDK user's app would.
import {
  ConfigurationError,
  KeymatMemberRolesStack,
  KeymatMembersStack,
  KeymatStack,
  membersPropsFromContext,
  propsFromContext,
} from './index';

const app = new App();
// Synthesis fails on any cdk-nag finding that is not acknowledged on its construct.
Validations.of(app).addPlugins(new AwsSolutionsChecks(app), new ServerlessChecks(app));
const context = (name: string): unknown => app.node.tryGetContext(name);

try {
  // Context (`-c name=value`, cdk.json) is an adapter to the stacks' props.
  const hub = new KeymatStack(app, 'Keymat', {
    ...propsFromContext(context),
    description: 'keymat: deletes imported KMS key material under change management',
  });
  // The member roles, once the hub is deployed and its account is named (`-c hubAccount=…`): the StackSet for the
  // organisation's accounts, and the plain stack for the management account, both deployed from the management account.
  const members = membersPropsFromContext(context, hub.stackName);
  if (members) {
    new KeymatMembersStack(app, 'KeymatMembers', {
      ...members,
      description: 'keymat: the member roles in every member account, as a service-managed StackSet',
    });
    new KeymatMemberRolesStack(app, 'KeymatManagementRoles', {
      ...members,
      description: "keymat: the member roles in the organisation's management account",
    });
  }
} catch (err) {
  if (!(err instanceof ConfigurationError)) throw err;
  // A setting refused is the deployer's to fix: its message says what and the value; a stack trace would bury it.
  process.stderr.write(`${err.message}\n`);
  // Now, before the app's automatic synthesis (on exit) writes a half-built app.
  process.exit(1);
}
