/** `celgate certs`: not yet built (issue 5). */
import { EXIT_USAGE, type Command } from '../usage.js';

const HELP = `Usage: celgate certs

Not available yet: this command is being built (see issue 5).`;

export const certsCommand: Command = {
  name: 'certs',
  summary: 'create a CA and issue webhook, workload and client certificates (not yet)',
  help: HELP,
  async run() {
    console.error('celgate certs: not available yet in this build');
    return EXIT_USAGE;
  },
};
