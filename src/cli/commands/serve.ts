/** `celgate serve`: not yet built (issue 3). */
import { EXIT_USAGE, type Command } from '../usage.js';

const HELP = `Usage: celgate serve

Not available yet: this command is being built (see issue 3).`;

export const serveCommand: Command = {
  name: 'serve',
  summary: 'run the admission webhook and ext_authz servers over TLS (not yet)',
  help: HELP,
  async run() {
    console.error('celgate serve: not available yet in this build');
    return EXIT_USAGE;
  },
};
