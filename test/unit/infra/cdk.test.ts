import { removeSynthesizedOutput } from '../../helpers/cdk-stacks';

/**
 * The tests that build CDK apps, as one jest suite. Jest gives each suite a module registry of its own, so each
 * suite loaded aws-cdk-lib and warmed it up afresh (seconds of CPU before its first synthesis); in one suite the
 * parts share that, and the stacks they synthesize (test/helpers/cdk-stacks.ts). Each part is a file of its own,
 * named here; run one with `npx jest test/unit/infra/cdk.test.ts -t '<name>'`.
 */
afterAll(removeSynthesizedOutput);

describe('infra/stack', () => {
  require('./stack.cdk');
});
describe('infra/approval-page-identity', () => {
  require('./approval-page-identity.cdk');
});
describe('infra/change-management', () => {
  require('./change-management.cdk');
});
describe('infra/constructs', () => {
  require('./constructs.cdk');
});
describe('infra/definition', () => {
  require('./definition.cdk');
});
describe('workflows/deletion-workflow', () => {
  require('../workflows/deletion-workflow.cdk');
});
describe('iam/permissions', () => {
  require('../../integration/iam/permissions.cdk');
});
