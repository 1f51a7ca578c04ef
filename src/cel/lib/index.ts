/** Every library of Kubernetes' CEL environment, in registration order. */
import type { CelLibrary } from '../library.js';
import { authorizerLibrary } from './authorizer.js';
import { encodersLibrary } from './encoders.js';
import { formatLibrary } from './format.js';
import { ipLibrary } from './ip.js';
import { jsonpatchLibrary } from './jsonpatch.js';
import { listsLibrary } from './lists.js';
import { mathLibrary } from './math.js';
import { numbersLibrary } from './numbers.js';
import { quantityLibrary } from './quantity.js';
import { regexLibrary } from './regex.js';
import { semverLibrary } from './semver.js';
import { setsLibrary } from './sets.js';
import { stringsLibrary } from './strings.js';
import { timeLibrary } from './time.js';
import { urlLibrary } from './url.js';

export const STANDARD_LIBRARIES: readonly CelLibrary[] = Object.freeze([
  numbersLibrary,
  timeLibrary,
  stringsLibrary,
  mathLibrary,
  setsLibrary,
  encodersLibrary,
  regexLibrary,
  listsLibrary,
  ipLibrary,
  urlLibrary,
  quantityLibrary,
  semverLibrary,
  formatLibrary,
  jsonpatchLibrary,
  authorizerLibrary,
]);
