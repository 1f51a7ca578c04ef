/** `celgate lint`: load and compile every policy, printing each problem as file:line:col. */
import { compileAccessPolicies } from '../../engine/access/index.js';
import { compileAdmissionPolicies } from '../../engine/admission/index.js';
import { formatIssue, loadResources, type PolicyIssue } from '../../policy/index.js';
import { EXIT_FAILED, EXIT_OK, parseCommandArgs, type Command, helpRequested } from '../usage.js';

const HELP = `Usage: celgate lint [PATH...]

Loads every policy document under PATH (files or directories; default: policies),
recognises its kind, and compiles it as 'celgate serve' would (every CEL expression,
bindings, Istio fields). Prints each problem as file:line:col: message.

Options:
  -h, --help   shows this help

Exit codes: 0 no problems, 1 problems found, 2 usage error.`;

export const lintCommand: Command = {
  name: 'lint',
  help: HELP,
  async run(args) {
    const { values, positionals } = parseCommandArgs(args, {});
    if (helpRequested(values, HELP)) return EXIT_OK;
    const paths = positionals.length > 0 ? positionals : ['policies'];
    const { resources, issues } = await loadResources(paths);
    const problems: PolicyIssue[] = [...issues];
    // Compiled by the engines the servers use, so lint reports exactly what would stop a load.
    compileAdmissionPolicies(
      resources.filter((resource) => resource.type.face === 'admission'),
      problems,
    );
    compileAccessPolicies(resources, problems);
    problems.sort((a, b) => a.file.localeCompare(b.file) || a.line - b.line || a.column - b.column);
    for (const problem of problems) console.log(formatIssue(problem));
    const summary = `${resources.length} resources, ${problems.length} problems`;
    console.error(summary);
    return problems.length > 0 ? EXIT_FAILED : EXIT_OK;
  },
};
