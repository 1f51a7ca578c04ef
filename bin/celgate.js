#!/usr/bin/env node
// Entry point of the `celgate` command; the implementation is compiled to dist/ by `npm run build`.
import { main } from '../dist/cli/main.js';

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (error) => {
    console.error(`celgate: internal error: ${error?.stack ?? error}`);
    process.exitCode = 70;
  },
);
