import { removeSynthesizedOutput } from '../../helpers/cdk-stacks';

/**
 * Every part that builds CDK apps, as one jest suite: the infra parts beside this file, the workflow's
 * (test/unit/workflows/) and the IAM permissions' (test/integration/iam/). The parts are `*.cdk.ts` files, which jest
 * does not run alone: this suite is where they run. Jest gives each suite a module registry of its own, so each suite
 * loaded aws-cdk-lib and warmed it up afresh (seconds of CPU before its first synthesis); in one suite the parts share
 * that, and the stacks they synthesize (test/helpers/cdk-stacks.ts). Run one part with
 * `npx jest test/unit/infra/all-cdk-parts.test.ts -t '<name>'`.
 */
afterAll(removeSynthesizedOutput);

describe('infra/stack', () => {
  require('./stack.cdk');
});
describe('infra/props', () => {
  require('./props.cdk');
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
describe('infra/members', () => {
  require('./members.cdk');
});
describe('infra/fleet-scan', () => {
  require('./fleet-scan.cdk');
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
describe('iam/member-permissions', () => {
  require('../../integration/iam/member-permissions.cdk');
});
