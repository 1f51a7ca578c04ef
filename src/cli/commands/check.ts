/** `celgate check`: not yet built (issue 4). */
import { EXIT_USAGE, type Command } from '../usage.js';

const HELP = `Usage: celgate check

Not available yet: this command is being built (see issue 4).`;

export const checkCommand: Command = {
  name: 'check',
  summary: 'decide access requests offline against AccessPolicy and Istio policies (not yet)',
  help: HELP,
  async run() {
    console.error('celgate check: not available yet in this build');
    return EXIT_USAGE;
  },
};
