/** The `celgate` command: dispatches to a subcommand and maps failures to exit codes. */
import { EXIT_OK, EXIT_USAGE, UsageError, type Command } from './usage.js';

interface CommandEntry {
  readonly name: string;
  readonly summary: string;
  /** Loaded only when chosen: a CI job running `celgate test` pays for no server code. */
  readonly load: () => Promise<Command>;
}

const COMMANDS: readonly CommandEntry[] = [
  { name: 'serve', summary: 'run the admission webhook and ext_authz servers over TLS', load: async () => (await import('./commands/serve.js')).serveCommand },
  { name: 'proxy', summary: 'run the companion proxy: mTLS, authorization and Istio routing beside a service', load: async () => (await import('./commands/proxy.js')).proxyCommand },
  { name: 'apply', summary: 'evaluate manifests against admission policies offline, as kube-apiserver would', load: async () => (await import('./commands/apply.js')).applyCommand },
  { name: 'check', summary: 'decide access requests offline against AccessPolicy and Istio policies', load: async () => (await import('./commands/check.js')).checkCommand },
  { name: 'test', summary: 'run PolicyTest suites (the policy test runner for CI)', load: async () => (await import('./commands/test.js')).testCommand },
  { name: 'replay', summary: 're-decide a decision log with new policies and list what changes', load: async () => (await import('./commands/replay.js')).replayCommand },
  { name: 'certs', summary: 'create a CA and issue webhook, workload and client certificates', load: async () => (await import('./commands/certs.js')).certsCommand },
  { name: 'eval', summary: 'evaluate a CEL expression and print the result with its type', load: async () => (await import('./commands/eval.js')).evalCommand },
  { name: 'lint', summary: 'load and compile policies, reporting every problem with file:line:col', load: async () => (await import('./commands/lint.js')).lintCommand },
];

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
    console.log(topic ? (await topic.load()).help : usage());
    return name === undefined ? EXIT_USAGE : EXIT_OK;
  }
  const entry = COMMANDS.find((c) => c.name === name);
  if (!entry) {
    console.error(`celgate: unknown command '${name}'\n\n${usage()}`);
    return EXIT_USAGE;
  }
  const command = await entry.load();
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
