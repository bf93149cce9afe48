#!/usr/bin/env node
// The CLI's entry point: everything else is loaded from dist/ on demand.
import('../dist/src/cli/main.js').then((cli) => cli.main(process.argv));
