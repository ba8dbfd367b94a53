// Runs the slowest suites first, so that no worker starts a long suite when the others are nearly done: the order
// comes from suite-durations.json (seconds per suite, as the suite-times reporter prints them), which holds on a
// fresh checkout where jest has no timing cache. A suite not listed there goes by jest's cached time, else last.
const { relative } = require('node:path');
const Sequencer = require('@jest/test-sequencer').default;
const durations = require('./suite-durations.json');

class SlowestFirst extends Sequencer {
  sort(tests) {
    const seconds = (test) =>
      durations[relative(test.context.config.rootDir, test.path).split('\\').join('/')] ??
      (this.time(test) ?? 0) / 1000;
    return [...tests].sort((a, b) => seconds(b) - seconds(a));
  }
}

module.exports = SlowestFirst;
