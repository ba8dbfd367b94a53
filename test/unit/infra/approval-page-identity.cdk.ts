import { Match, type Template } from 'aws-cdk-lib/assertions';
import { AwsSolutionsChecks, ServerlessChecks } from 'cdk-nag';
import { ENV } from '../../../core/config';
import { keymatStack as synth, propsOf } from '../../helpers/cdk-stacks';

const ISSUER = 'https://cognito-idp.us-east-1.amazonaws.com/us-east-1_Example';
const IDENTITY = { approvalPageJwtIssuer: ISSUER, approvalPageJwtAudience: 'client-a, client-b' };
type Resource = { Properties: Record<string, any> };

/** The environment variables of the function whose logical ID starts with `name`. */
const environmentOf = (template: Template, name: string): Record<string, unknown> =>
  (Object.entries(template.findResources('AWS::Lambda::Function')).find(([id]) => id.startsWith(name))![1] as Resource)
    .Properties.Environment.Variables;

describe('the approval page in identity mode', () => {
  const { stack, template } = synth(IDENTITY);

  it('sits behind an HTTP API whose JWT authorizer takes the issuer and audience from the context', () => {
    template.resourceCountIs('AWS::ApiGatewayV2::Api', 1);
    template.hasResourceProperties('AWS::ApiGatewayV2::Api', { ProtocolType: 'HTTP' });
    template.resourceCountIs('AWS::ApiGatewayV2::Authorizer', 1);
    template.hasResourceProperties('AWS::ApiGatewayV2::Authorizer', {
      AuthorizerType: 'JWT',
      IdentitySource: ['$request.header.Authorization'],
      JwtConfiguration: { Issuer: ISSUER, Audience: ['client-a', 'client-b'] },
    });
  });

  it('authorizes both routes, GET and POST on /approval, with the JWT authorizer', () => {
    const routes = Object.values(template.findResources('AWS::ApiGatewayV2::Route')) as Resource[];
    expect(routes.map((r) => r.Properties.RouteKey).sort()).toEqual(['GET /approval', 'POST /approval']);
    for (const route of routes) {
      expect(route.Properties).toMatchObject({
        AuthorizationType: 'JWT',
        AuthorizerId: { Ref: expect.stringMatching(/Authorizer/) },
      });
    }
  });

  it('creates no public Function URL, and outputs the API URL instead', () => {
    expect(template.findResources('AWS::Lambda::Url', { Properties: { AuthType: 'NONE' } })).toEqual({});
    template.hasResourceProperties('AWS::Lambda::Url', { AuthType: 'AWS_IAM' });
    expect(template.findOutputs('ApprovalPageUrl')).toEqual({});
    template.hasOutput('ApprovalPageApiUrl', {});
  });

  it("sends links to the API's /approval path and tells the page its claim (email by default)", () => {
    expect(environmentOf(template, 'ApprovalPage')[ENV.approvalPageIdentityClaim]).toBe('email');
    const pageUrl = JSON.stringify(environmentOf(template, 'RequestApproval')[ENV.approvalPageUrl]);
    expect(pageUrl).toMatch(/ApprovalPageApi/);
    expect(pageUrl).toContain('/approval');
  });

  it('takes another claim from approvalPageJwtClaim', () => {
    const { template: custom } = synth({ ...IDENTITY, approvalPageJwtClaim: 'preferred_username' });
    expect(environmentOf(custom, 'ApprovalPage')[ENV.approvalPageIdentityClaim]).toBe('preferred_username');
  });

  it('writes JSON access logs to a log group of its own, and throttles the stage', () => {
    template.hasResourceProperties('AWS::ApiGatewayV2::Stage', {
      StageName: '$default',
      AutoDeploy: true,
      AccessLogSettings: {
        DestinationArn: { 'Fn::GetAtt': [Match.stringLikeRegexp('^ApprovalPageApiAccessLogs'), 'Arn'] },
        Format: Match.stringLikeRegexp('"requestId":"\\$context.requestId"'),
      },
      DefaultRouteSettings: { ThrottlingRateLimit: Match.anyValue(), ThrottlingBurstLimit: Match.anyValue() },
    });
  });

  it('leaves cdk-nag AwsSolutions and Serverless nothing unacknowledged', () => {
    for (const pack of [new AwsSolutionsChecks(stack.node.root), new ServerlessChecks(stack.node.root)]) {
      expect(pack.validateScope(stack).violations.map((v) => v.ruleName)).toEqual([]);
    }
  });
});

describe('the approval page without identity mode', () => {
  const { stack, template } = synth();

  it('keeps its public Function URL and output, and has no HTTP API', () => {
    template.hasResourceProperties('AWS::Lambda::Url', { AuthType: 'NONE' });
    template.hasOutput('ApprovalPageUrl', {});
    expect(template.findOutputs('ApprovalPageApiUrl')).toEqual({});
    template.resourceCountIs('AWS::ApiGatewayV2::Api', 0);
    expect(stack.approvalPageApi).toBeUndefined();
    expect(environmentOf(template, 'ApprovalPage')).not.toHaveProperty(ENV.approvalPageIdentityClaim);
  });
});

describe('the identity mode contexts', () => {
  it.each([
    [
      { ...IDENTITY, approvalPageJwtIssuer: 'http://idp.example.com' },
      'context approvalPageJwtIssuer must be an https URL',
    ],
    [{ ...IDENTITY, approvalPageJwtIssuer: 'idp.example.com' }, "got 'idp.example.com'"],
    [{ approvalPageJwtIssuer: ISSUER }, 'approvalPageJwtIssuer and approvalPageJwtAudience go together'],
    [{ approvalPageJwtAudience: 'client-a' }, 'approvalPageJwtAudience is set, set approvalPageJwtIssuer too'],
    [{ ...IDENTITY, approvalPageJwtAudience: ' , ' }, 'approvalPageJwtIssuer is set, set approvalPageJwtAudience too'],
    [
      { ...IDENTITY, approvalPageJwtClaim: 'e mail' },
      "context approvalPageJwtClaim must be a JWT claim name (e.g. email, preferred_username); got 'e mail'",
    ],
    [
      { approvalPageJwtClaim: 'email' },
      "context approvalPageJwtClaim 'email' takes effect only with approvalPageJwtIssuer",
    ],
  ])('refuses %j, naming the context value as typed', (context, message) => {
    expect(() => propsOf(context)).toThrow(message);
  });

  it('refuses a bad issuer at synth, naming the context value and the value', () => {
    expect(() => synth({ ...IDENTITY, approvalPageJwtIssuer: 'http://idp.example.com' })).toThrow(
      "context approvalPageJwtIssuer must be an https URL (the token issuer, e.g. https://cognito-idp.us-east-1.amazonaws.com/us-east-1_Example); got 'http://idp.example.com'",
    );
  });
});
