/** `celgate eval`: evaluate one expression, or a batch of JSON lines, and print typed results. */
import { createReadStream } from 'node:fs';
import { createInterface } from 'node:readline';
import { CelEnvironment, CelError, celTypeName, fromJson, toJson } from '../../cel/index.js';
import { LineWriter, readDataFile } from '../io.js';
import { EXIT_FAILED, EXIT_OK, UsageError, parseCommandArgs, type Command, helpRequested } from '../usage.js';

const HELP = `Usage: celgate eval EXPR [--input FILE] [--var NAME=FILE]...
       celgate eval --batch FILE

Evaluates a CEL expression with Kubernetes' CEL libraries and prints the result with
its CEL type, e.g. {"value":12,"type":"int"}.

Options:
  --input FILE       a JSON or YAML object; each top-level key becomes a variable
  --var NAME=FILE    binds variable NAME to the content of FILE (JSON or YAML)
  --batch FILE       reads JSON lines {"expr": "...", "vars": {...}} (- for stdin) and
                     writes one JSON line per input: {"value","type"} or {"error"}
  -h, --help         shows this help

Integers are CEL ints; those that do not fit a JS number are printed as decimal strings.
Exit codes: 0 evaluated, 1 compile or evaluation error, 2 usage error.`;

export const evalCommand: Command = {
  name: 'eval',
  help: HELP,
  async run(args) {
    const { values, positionals } = parseCommandArgs(args, {
      input: { type: 'string' },
      var: { type: 'string', multiple: true },
      batch: { type: 'string' },
    });
    if (helpRequested(values, HELP)) return EXIT_OK;
    const batch = values.batch as string | undefined;
    const input = values.input as string | undefined;
    const bindings = (values.var as string[] | undefined) ?? [];
    if (batch !== undefined) {
      if (positionals.length > 0 || input !== undefined || bindings.length > 0) {
        throw new UsageError('--batch takes no expression, --input or --var');
      }
      return runBatch(batch);
    }
    if (positionals.length !== 1) throw new UsageError('expected exactly one expression (quote it)');
    const variables = await loadVariables(input, bindings);
    return evaluateOnce(positionals[0]!, variables);
  },
};

async function loadVariables(input: string | undefined, bindings: string[]): Promise<Record<string, unknown>> {
  const variables: Record<string, unknown> = {};
  if (input !== undefined) {
    const data = await readDataFile(input);
    if (typeof data !== 'object' || data === null || Array.isArray(data)) {
      throw new UsageError(`${input}: --input must hold an object whose keys are variable names`);
    }
    Object.assign(variables, data);
  }
  for (const binding of bindings) {
    const eq = binding.indexOf('=');
    if (eq <= 0) throw new UsageError(`--var expects NAME=FILE, got '${binding}'`);
    variables[binding.slice(0, eq)] = await readDataFile(binding.slice(eq + 1));
  }
  return fromJson(variables) as Record<string, unknown>;
}

const environments = new Map<string, CelEnvironment>();

/** One environment per set of variable names, every variable `dyn`. */
function environmentFor(names: readonly string[]): CelEnvironment {
  const key = [...names].sort().join('\0');
  let env = environments.get(key);
  if (!env) {
    env = new CelEnvironment({ variables: Object.fromEntries(names.map((n) => [n, 'dyn'])) });
    environments.set(key, env);
  }
  return env;
}

function evaluate(expr: string, variables: Record<string, unknown>): { value: unknown; type: string } {
  const value = environmentFor(Object.keys(variables)).compile(expr).evaluate(variables);
  return { value: toJson(value), type: celTypeName(value) };
}

function evaluateOnce(expr: string, variables: Record<string, unknown>): number {
  try {
    console.log(JSON.stringify(evaluate(expr, variables)));
    return EXIT_OK;
  } catch (error) {
    if (!(error instanceof CelError)) throw error;
    console.error(`error: ${error.message}`);
    return EXIT_FAILED;
  }
}

async function runBatch(file: string): Promise<number> {
  const input = file === '-' ? process.stdin : createReadStream(file);
  const opened = new Promise<void>((resolve, reject) => {
    if (file === '-') resolve();
    input.once('open', () => resolve());
    input.once('error', (error: Error) => reject(new UsageError(`cannot read ${file}: ${(error as NodeJS.ErrnoException).code}`)));
  });
  await opened;
  const out = new LineWriter();
  let lineNumber = 0;
  for await (const line of createInterface({ input, crlfDelay: Infinity })) {
    lineNumber++;
    if (line.trim() === '') continue;
    await out.line(JSON.stringify(batchLine(line, lineNumber)));
  }
  await out.flush();
  return EXIT_OK;
}

function batchLine(line: string, lineNumber: number): object {
  let request: { expr?: unknown; vars?: unknown };
  try {
    request = JSON.parse(line);
  } catch (error) {
    return { error: `line ${lineNumber}: invalid JSON: ${(error as Error).message}` };
  }
  if (typeof request !== 'object' || request === null || typeof request.expr !== 'string') {
    return { error: `line ${lineNumber}: expected {"expr": "...", "vars": {...}}` };
  }
  const vars = request.vars ?? {};
  if (typeof vars !== 'object' || vars === null || Array.isArray(vars)) {
    return { error: `line ${lineNumber}: "vars" must be an object` };
  }
  try {
    return evaluate(request.expr, fromJson(vars) as Record<string, unknown>);
  } catch (error) {
    if (error instanceof CelError) return { error: error.message };
    return { error: `internal error: ${(error as Error).message}` };
  }
}
