/** `celgate apply`: not yet built (issue 3). */
import { EXIT_USAGE, type Command } from '../usage.js';

const HELP = `Usage: celgate apply

Not available yet: this command is being built (see issue 3).`;

export const applyCommand: Command = {
  name: 'apply',
  summary: 'evaluate manifests against admission policies offline, as kube-apiserver would (not yet)',
  help: HELP,
  async run() {
    console.error('celgate apply: not available yet in this build');
    return EXIT_USAGE;
  },
};
