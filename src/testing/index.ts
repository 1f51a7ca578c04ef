/** The policy test runner (`celgate test`) and decision replay, usable without the CLI. */
export { loadRun, runSuites, runCase, discoverSuites, caseTitle, type LoadedRun, type LoadedSuite, type CaseResult, type RunSummary, type RunOptions } from './runner.js';
export { check, semanticEqual, diffLines, type Mismatch } from './compare.js';
export { Coverage, type CoverageItem } from './coverage.js';
export { mutationCheck, mutantsOf, expressionMutations, type MutationReport, type MutantResult } from './mutate.js';
export { admissionLogLine, accessLogLine, parseLogLine, replayLine, groupByPolicy, type DecisionLogLine, type AdmissionLogLine, type AccessLogLine, type ReplayChange } from './replay.js';
export { junitXml, summaryLine } from './report.js';
export type { TestSuite, TestCase, Expectation } from './types.js';
