/**
 * Kubernetes' format library (k8s.io/apiserver/pkg/cel/library format.go):
 * `format.named(name)` and `format.<name>()` give a `kubernetes.NamedFormat`, whose
 * `validate(value)` is `optional.none()` for a valid value and otherwise the list of
 * Kubernetes' error messages, e.g.
 * `format.dns1123Label().validate(object.metadata.name).hasValue()`.
 */
import { Optional } from '../adapter.js';
import { charge } from '../cost.js';
import type { CelLibrary } from '../library.js';
import { FORMAT_VALIDATORS, type Validator } from './format-validators.js';

/** A CEL `kubernetes.NamedFormat` value. */
export class NamedFormat {
  constructor(
    readonly name: string,
    readonly validator: Validator,
  ) {}
  get celTypeName(): string {
    return 'kubernetes.NamedFormat';
  }
  toJSON(): string {
    return this.name;
  }
}

// One value per format, so that `format.named('uri').value() == format.uri()`.
const FORMATS: ReadonlyMap<string, NamedFormat> = new Map(
  [...FORMAT_VALIDATORS].map(([name, validator]) => [name, new NamedFormat(name, validator)]),
);

function validate(format: NamedFormat, value: string): Optional {
  charge(value.length);
  const errors = format.validator(value);
  return errors.length === 0 ? Optional.none() : Optional.of(errors);
}

export const formatLibrary: CelLibrary = {
  name: 'format',
  register(r) {
    r.type('kubernetes.NamedFormat', NamedFormat);
    r.namespace('format');
    r.fn('format.named(string): optional<kubernetes.NamedFormat>', (name: string) => {
      const format = FORMATS.get(name);
      return format ? Optional.of(format) : Optional.none();
    });
    for (const [name, format] of FORMATS) r.fn(`format.${name}(): kubernetes.NamedFormat`, () => format);
    r.fn('kubernetes.NamedFormat.validate(string): optional<list<string>>', validate);
    r.operator('kubernetes.NamedFormat == kubernetes.NamedFormat', (a: NamedFormat, b: NamedFormat) => a.name === b.name);
  },
};
