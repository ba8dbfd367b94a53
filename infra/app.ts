import { App } from 'aws-cdk-lib';
import { configFromContext } from './config';
import { KeymatStack } from './keymat-stack';

const app = new App();
new KeymatStack(app, 'Keymat', {
  config: configFromContext((name) => app.node.tryGetContext(name)),
  description: 'keymat: deletes imported KMS key material under change management',
});
