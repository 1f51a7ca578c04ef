/** `celgate test`: not yet built (issue 6). */
import { EXIT_USAGE, type Command } from '../usage.js';

const HELP = `Usage: celgate test

Not available yet: this command is being built (see issue 6).`;

export const testCommand: Command = {
  name: 'test',
  summary: 'run PolicyTest suites (the policy test runner for CI) (not yet)',
  help: HELP,
  async run() {
    console.error('celgate test: not available yet in this build');
    return EXIT_USAGE;
  },
};
