// The command of TypeScript 7, the native compiler, which checks keymat's types and writes the construct library's
// typings (the `typescript-7` package, several times faster than 5.9 on the whole program).
// `typescript` 5.9 stays installed for the tools built on its JavaScript API, typescript-eslint and madge. Both
// packages name their command `tsc`, so node_modules/.bin/tsc may be either: keymat calls TypeScript 7 by its path.
const { dirname, join } = require('node:path');

const manifest = require.resolve('typescript-7/package.json');

module.exports = { TSC: join(dirname(manifest), require(manifest).bin.tsc) };
