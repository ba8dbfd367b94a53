import { App, Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks, ServerlessChecks } from 'cdk-nag';
// The construct library's own entry point (`keymat/cdk`): this app builds keymat as a CDK user's app would.
import { KeymatStack, propsFromContext } from './index';

const app = new App();
// Synthesis fails on any cdk-nag finding that is not acknowledged on its construct.
Validations.of(app).addPlugins(new AwsSolutionsChecks(app), new ServerlessChecks(app));
// Context (`-c name=value`, cdk.json) is an adapter to the stack's props.
new KeymatStack(app, 'Keymat', {
  ...propsFromContext((name) => app.node.tryGetContext(name)),
  description: 'keymat: deletes imported KMS key material under change management',
});
