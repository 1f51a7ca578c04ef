/** `celgate replay`: re-decide logged decisions with new policies and list the ones that change. */
import { readFile } from 'node:fs/promises';
import { formatIssue, type PolicyIssue } from '../../policy/index.js';
import { clusterFor, compileSet, loadPolicyFiles } from '../../testing/engines.js';
import { toPlainJson } from '../../testing/fields.js';
import { readDataDocuments } from '../../testing/format.js';
import { expandPath } from '../../testing/paths.js';
import { groupByPolicy, parseLogLine, replayLine, type ReplayChange } from '../../testing/replay.js';
import { EXIT_FAILED, EXIT_OK, EXIT_USAGE, UsageError, parseCommandArgs, type Command, helpRequested } from '../usage.js';

const HELP = `Usage: celgate replay --log DECISIONS.jsonl --policies PATH... [OPTIONS]

Re-decides every logged decision (admission and access lines, one JSON object per line;
the shape is in docs/policy-test.md) with the policies under PATH, and lists the decisions
that come out differently (allowed/denied or the status code), grouped by policy.

Options:
  --log FILE             the decision log (JSON lines); - for standard input
  --policies PATH        policy files, directories or globs (repeatable)
  --cluster FILE         namespaces and param objects the policies look up (repeatable)
  --allow-changes        exit 0 even when decisions change
  --output FORMAT        text (default) or json
  -h, --help             shows this help

Exit codes: 0 nothing changed (or --allow-changes), 1 a decision changed, 2 a log line or
policy did not load, or usage error.`;

export const replayCommand: Command = {
  name: 'replay',
  help: HELP,
  async run(args) {
    const { values, positionals } = parseCommandArgs(args, {
      log: { type: 'string' },
      policies: { type: 'string', multiple: true },
      cluster: { type: 'string', multiple: true },
      'allow-changes': { type: 'boolean' },
      output: { type: 'string' },
    });
    if (helpRequested(values, HELP)) return EXIT_OK;
    const log = values.log as string | undefined;
    const policyPaths = [...((values.policies as string[] | undefined) ?? []), ...positionals];
    if (!log) throw new UsageError('--log FILE is required');
    if (policyPaths.length === 0) throw new UsageError('--policies PATH is required');
    const output = (values.output as string | undefined) ?? 'text';
    if (output !== 'text' && output !== 'json') throw new UsageError(`--output must be text or json, not '${output}'`);

    const issues: PolicyIssue[] = [];
    const files = new Set<string>();
    for (const path of policyPaths) {
      const expansion = expandPath(process.cwd(), path);
      if ('error' in expansion) issues.push({ file: path, line: 1, column: 1, message: `policy ${expansion.error}` });
      else for (const file of expansion.files) files.add(file);
    }
    const cluster: unknown[] = [];
    const cache = new Map();
    for (const file of (values.cluster as string[] | undefined) ?? []) {
      const read = readDataDocuments(file, cache);
      if ('error' in read) issues.push({ file, line: 1, column: 1, message: read.error });
      else for (const d of read.documents) cluster.push(toPlainJson(d.value));
    }
    const { resources, issues: loadIssues } = await loadPolicyFiles([...files].sort());
    issues.push(...loadIssues);
    const set = compileSet(resources, issues);

    let text: string;
    try {
      text = log === '-' ? await readStdinText() : await readFile(log, 'utf8');
    } catch (error) {
      throw new UsageError(`cannot read ${log}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`);
    }
    const lines = text.split('\n');
    const parsed = [];
    for (let i = 0; i < lines.length; i++) {
      if (lines[i]!.trim() === '') continue;
      const line = parseLogLine(lines[i]!);
      if ('error' in line) issues.push({ file: log, line: i + 1, column: 1, message: line.error });
      else parsed.push({ line, number: i + 1 });
    }
    if (issues.length > 0) {
      for (const issue of issues) console.error(formatIssue(issue));
      console.error(`${issues.length} load error${issues.length === 1 ? '' : 's'}: nothing replayed`);
      return EXIT_USAGE;
    }
    const state = clusterFor(cluster);
    const changes: ReplayChange[] = [];
    for (const { line, number } of parsed) {
      const change = await replayLine(line, number, set, state);
      if (change) changes.push(change);
    }
    if (output === 'json') {
      console.log(JSON.stringify({ replayed: parsed.length, changed: changes.length, changes }));
    } else {
      for (const [policy, group] of groupByPolicy(changes)) {
        console.log(`${policy} (${group.length} change${group.length === 1 ? '' : 's'})`);
        for (const c of group) console.log(`  ${log}:${c.line}  ${c.type} ${c.subject}: ${c.before} -> ${c.after}`);
      }
      console.log(`${parsed.length} decisions replayed, ${changes.length} changed`);
    }
    return changes.length > 0 && values['allow-changes'] !== true ? EXIT_FAILED : EXIT_OK;
  },
};

async function readStdinText(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}
