#!/usr/bin/env node
// The keymat command: runs the TypeScript sources through tsx, so `npx keymat` works right after `npm ci`.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
require('tsx/cjs');
require('./main.ts');
