import { App, Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks, ServerlessChecks } from 'cdk-nag';
// The construct library's own entry point (`keymat/cdk`): this app builds keymat as a CDK user's app would.
import { configFromContext, KeymatStack } from './index';

const app = new App();
// Synthesis fails on any cdk-nag finding that is not acknowledged on its construct.
Validations.of(app).addPlugins(new AwsSolutionsChecks(app), new ServerlessChecks(app));
new KeymatStack(app, 'Keymat', {
  config: configFromContext((name) => app.node.tryGetContext(name)),
  description: 'keymat: deletes imported KMS key material under change management',
});
