// Mocha's spec reporter, plus a table of how long each spec file took (its hooks included),
// slowest first, so a slow suite shows where its minutes go. Use: mocha --reporter <this file>.
'use strict';
const path = require('node:path');
const Mocha = require('mocha');

const { EVENT_SUITE_BEGIN, EVENT_SUITE_END, EVENT_RUN_END } = Mocha.Runner.constants;

class FileTimingsReporter extends Mocha.reporters.Spec {
  constructor(runner, options) {
    super(runner, options);
    const started = new Map();
    const took = new Map();
    runner.on(EVENT_SUITE_BEGIN, (suite) => {
      if (suite.file && suite.parent?.root) started.set(suite, Date.now());
    });
    runner.on(EVENT_SUITE_END, (suite) => {
      const start = started.get(suite);
      if (start === undefined) return;
      const file = path.relative(process.cwd(), suite.file);
      took.set(file, (took.get(file) ?? 0) + Date.now() - start);
    });
    runner.once(EVENT_RUN_END, () => {
      const rows = [...took].sort((a, b) => b[1] - a[1]);
      const total = rows.reduce((sum, [, ms]) => sum + ms, 0);
      console.log('\n  Time per spec file (slowest first):');
      for (const [file, ms] of rows) console.log(`  ${(ms / 1000).toFixed(1).padStart(7)} s  ${file}`);
      console.log(`  ${(total / 1000).toFixed(1).padStart(7)} s  in all\n`);
    });
  }
}

module.exports = FileTimingsReporter;
