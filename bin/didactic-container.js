#!/usr/bin/env node
// The CLI's entry point. The bundle (npm run build) starts faster; the
// compiled modules under dist/src are the same code, used when no bundle exists.
import { existsSync } from 'node:fs';

const bundle = new URL('../dist/bundle/cli/main.js', import.meta.url);
const entry = existsSync(bundle) ? bundle.href : new URL('../dist/src/cli/main.js', import.meta.url).href;
import(entry).then((cli) => cli.main(process.argv));
