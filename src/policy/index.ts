/** Policy resources: loading YAML with positions, recognising kinds, compiling their CEL. */
export { loadResources, toResource, type PolicyResource, type LoadResult } from './load.js';
export { readDocuments, parseDocuments, SourceDocument, type Position, type FieldPath } from './source.js';
export { recognizeKind, type KnownKind, type Face } from './kinds.js';
export { formatIssue, PolicyLoadError, type PolicyIssue } from './issues.js';
export {
  compileField,
  expressionFields,
  environmentFor,
  fieldName,
  ADMISSION_VARIABLES,
  AUTHZ_VARIABLES,
  type CompiledField,
} from './expressions.js';
export { watchPaths, type Watching } from './watch.js';
export { closestName } from './names.js';
