/**
 * celgate's CEL layer: one environment shape for every policy, with the Kubernetes CEL
 * libraries, a cost budget, RE2 regular expressions and positioned errors.
 */
export { CelEnvironment, Program, type EnvironmentOptions, type EvaluateOptions } from './environment.js';
export { CelError, CelFunctionError, positionInFile, type CelErrorKind, type ExpressionOrigin, type ExpressionPosition } from './errors.js';
export {
  CostMeter,
  DEFAULT_COMPILE_LIMITS,
  PER_EVALUATION_COST_BUDGET,
  PER_EXPRESSION_COST_LIMIT,
  type CompileLimits,
} from './cost.js';
export { fromJson, parseJson, toJson, celTypeName, type CelValue } from './values.js';
export type { CelLibrary, LibraryRegistrar, CelFunction } from './library.js';
export { STANDARD_LIBRARIES } from './lib/index.js';
export { isCelIdentifier, stringLiteralEnd } from './syntax.js';
