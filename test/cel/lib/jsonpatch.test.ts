import { CelEnvironment, CelError } from '../../../src/cel/index.js';

// Expected values come from the Kubernetes JSONPatch library documentation: the doc comment
// of k8s.io/apiserver/pkg/cel/library jsonpatch.go (pkg.go.dev), linked from "Common
// Expression Language in Kubernetes" (kubernetes.io/docs/reference/using-api/cel), and
// from RFC 6901, whose escaping it applies.
const env = new CelEnvironment({ variables: { object: 'dyn' } });
const run = (expr: string, activation: Record<string, unknown> = {}) => env.compile(expr).evaluate(activation);

describe('jsonpatch.escapeKey()', () => {
  it('escapes ~ and / (jsonpatch.go example)', () => {
    expect(run(`"/metadata/labels/" + jsonpatch.escapeKey('k8s.io/my~label')`)).toBe('/metadata/labels/k8s.io~1my~0label');
  });

  it('escapes each character once, so existing escapes stay distinct (RFC 6901)', () => {
    expect(run("jsonpatch.escapeKey('~1')")).toBe('~01');
    expect(run("jsonpatch.escapeKey('a/~/b')")).toBe('a~1~0~1b');
    expect(run("jsonpatch.escapeKey('plain-key')")).toBe('plain-key');
    expect(run("jsonpatch.escapeKey('')")).toBe('');
  });

  it('works on keys from the activation', () => {
    const object = { key: 'example.com/owner' };
    expect(run("'/metadata/annotations/' + jsonpatch.escapeKey(object.key)", { object })).toBe(
      '/metadata/annotations/example.com~1owner',
    );
  });

  it('refuses arguments that are not strings', () => {
    expect(() => env.compile('jsonpatch.escapeKey(1)')).toThrow(CelError);
    expect(() => env.compile("jsonpatch.escape('a')")).toThrow(CelError);
    expect(() => run('jsonpatch.escapeKey(object.key)', { object: { key: 1n } })).toThrow(/overload/i);
  });
});
