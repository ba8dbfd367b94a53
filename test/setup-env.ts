// Set before any module under test loads: quiet Powertools and the SDK's Node-version notice.
process.env.POWERTOOLS_LOG_LEVEL = 'SILENT';
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true';
// The environment the stack gives the functions, for handler unit tests.
process.env.AWS_REGION = 'us-east-1';
process.env.KEYMAT_ACCOUNT_ID = '111122223333';
process.env.APPROVAL_TOPIC_ARN = 'arn:aws:sns:us-east-1:111122223333:approvals';
process.env.OUTCOME_TOPIC_ARN = 'arn:aws:sns:us-east-1:111122223333:outcomes';
