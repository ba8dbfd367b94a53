// Set before any module under test loads: quiet Powertools and the SDK's Node-version notice.
process.env.POWERTOOLS_LOG_LEVEL = 'SILENT';
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true';
// SDK clients made in tests without a Region (those whose `send` is mocked) resolve it from here. The functions'
// own variables are not set: task tests call the factories with configuration objects, and the handler wiring tests
// set the variables they read.
process.env.AWS_REGION = 'us-east-1';
