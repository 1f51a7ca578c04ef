/** The `celgate` command: dispatches to a subcommand and maps failures to exit codes. */
import { applyCommand } from './commands/apply.js';
import { certsCommand } from './commands/certs.js';
import { checkCommand } from './commands/check.js';
import { evalCommand } from './commands/eval.js';
import { lintCommand } from './commands/lint.js';
import { serveCommand } from './commands/serve.js';
import { testCommand } from './commands/test.js';
import { EXIT_OK, EXIT_USAGE, UsageError, type Command } from './usage.js';

const COMMANDS: readonly Command[] = [serveCommand, applyCommand, checkCommand, testCommand, certsCommand, evalCommand, lintCommand];

function usage(): string {
  const width = Math.max(...COMMANDS.map((c) => c.name.length));
  const lines = COMMANDS.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`);
  return `Usage: celgate COMMAND [OPTIONS]

celgate is a CEL policy engine: Kubernetes admission policies, Envoy ext_authz and a
policy test runner, one engine.

Commands:
${lines.join('\n')}

Run 'celgate COMMAND --help' for a command's options.`;
}

export async function main(argv: readonly string[]): Promise<number> {
  const [name, ...args] = argv;
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    const topic = name === 'help' ? COMMANDS.find((c) => c.name === args[0]) : undefined;
    console.log(topic ? topic.help : usage());
    return name === undefined ? EXIT_USAGE : EXIT_OK;
  }
  const command = COMMANDS.find((c) => c.name === name);
  if (!command) {
    console.error(`celgate: unknown command '${name}'\n\n${usage()}`);
    return EXIT_USAGE;
  }
  try {
    return await command.run(args);
  } catch (error) {
    if (error instanceof UsageError) {
      console.error(`celgate ${name}: ${error.message}\nRun 'celgate ${name} --help' for usage.`);
      return EXIT_USAGE;
    }
    throw error;
  }
}
