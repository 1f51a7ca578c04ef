import { CelEnvironment, CelError, CostMeter, fromJson, parseJson, toJson } from '../../src/cel/index.js';

const env = new CelEnvironment({ variables: { object: 'dyn', items: 'list<int>' } });
const run = (expr: string, activation: Record<string, unknown> = {}) => env.compile(expr).evaluate(activation);

describe('compile and evaluate', () => {
  it('treats integral JSON numbers as int (Kubernetes decodes them as int64)', () => {
    const object = fromJson({ spec: { replicas: 3, ratio: 0.5 } });
    expect(run('object.spec.replicas + 1', { object })).toBe(4n);
    expect(run('object.spec.ratio * 2.0', { object })).toBe(1);
  });

  it('keeps JSON keys named __proto__ and constructor as ordinary map entries', () => {
    for (const object of [
      fromJson(JSON.parse('{"metadata":{"labels":{"__proto__":"x","constructor":"y","app":"web"}}}')),
      parseJson('{"metadata":{"labels":{"__proto__":"x","constructor":"y","app":"web"}}}'),
    ]) {
      expect(run("object.metadata.labels['__proto__'] + object.metadata.labels.constructor", { object })).toBe('xy');
      expect(run('object.metadata.labels.size()', { object })).toBe(3n);
      expect(run("type(object.metadata.labels) == map && 'constructor' in object.metadata.labels", { object })).toBe(true);
      expect(toJson(run('object.metadata.labels', { object }))).toEqual(JSON.parse('{"__proto__":"x","constructor":"y","app":"web"}'));
    }
  });

  it('names library namespaces as the user wrote them in errors', () => {
    expect(() => env.compile("math.ceil('a')")).toThrow("found no matching overload for 'math.ceil(string)'");
  });

  it('reuses the compiled program for the same text', () => {
    const a = env.compile('1 + 2');
    const b = env.compile('1 + 2');
    expect(a.evaluate({})).toBe(3n);
    expect(b.resultType).toBe('int');
  });

  it('reports syntax errors with line:column inside the expression', () => {
    expect(() => env.compile('1 +\n  * 2')).toThrow(CelError);
    try {
      env.compile('1 +\n  * 2');
    } catch (error) {
      expect((error as CelError).kind).toBe('syntax');
      expect((error as CelError).position).toEqual({ line: 2, column: 3 });
    }
  });

  it('anchors errors to the file and line the expression came from', () => {
    try {
      env.compile('object.a &&\n  nope', { file: 'policies/p.yaml', line: 12, column: 19 });
      throw new Error('expected a compile error');
    } catch (error) {
      const cel = error as CelError;
      expect(cel.kind).toBe('type');
      expect(cel.location).toBe('policies/p.yaml:13:3');
      expect(cel.message).toMatch(/^policies\/p\.yaml:13:3: .*nope/);
    }
  });

  it('rejects undeclared variables at compile time', () => {
    expect(() => env.compile('undeclared == 1')).toThrow(/Unknown variable: undeclared/);
  });

  it('evaluation errors carry a position', () => {
    try {
      run('object.missing', { object: {} });
      throw new Error('expected an evaluation error');
    } catch (error) {
      expect((error as CelError).kind).toBe('evaluation');
      expect((error as CelError).position?.line).toBe(1);
    }
  });
});

describe('cost budget', () => {
  const big = Array.from({ length: 1000 }, (_, i) => BigInt(i));

  it('stops nested comprehensions over large inputs with a clear error, quickly', () => {
    const started = Date.now();
    expect(() => run('items.all(x, items.all(y, items.all(z, x + y + z >= 0)))', { items: big })).toThrow(
      /cost budget exceeded/,
    );
    expect(Date.now() - started).toBeLessThan(2000);
  });

  it('is not absorbed by exists() or ||', () => {
    expect(() => run('true || items.exists(x, items.exists(y, items.exists(z, x + y + z < 0)))', { items: big })).not.toThrow();
    expect(() => run('items.exists(x, items.exists(y, items.exists(z, x + y + z < 0))) || true', { items: big })).toThrow(
      /cost budget exceeded/,
    );
  });

  it('lets ordinary comprehensions through and shares a meter across expressions', () => {
    const probe = new CostMeter();
    env.compile('items.all(x, x >= 0)').evaluate({ items: big }, { meter: probe });
    expect(probe.spent).toBeGreaterThanOrEqual(1000);
    const meter = new CostMeter(probe.spent * 1.5);
    expect(env.compile('items.all(x, x >= 0)').evaluate({ items: big }, { meter })).toBe(true);
    expect(meter.spent).toBe(probe.spent);
    expect(() => env.compile('items.all(x, x >= 0)').evaluate({ items: big }, { meter })).toThrow(/cost budget exceeded/);
  });
});

describe('regular expressions (RE2, linear time)', () => {
  it("finishes 'a'*30 + 'b' against ^(a+)+$ in milliseconds", () => {
    const started = Date.now();
    expect(run("object.s.matches('^(a+)+$')", { object: { s: 'a'.repeat(30) + 'b' } })).toBe(false);
    // A backtracking engine takes 2^30 steps here (minutes); the bound leaves room for a slow CI machine.
    expect(Date.now() - started).toBeLessThan(1000);
  });

  it('finishes catastrophic patterns the V8 fallback cannot take (case-insensitive, counted)', () => {
    const started = Date.now();
    const s = 'a'.repeat(40) + 'b';
    expect(run("object.s.matches('(?i)^(a+)+$')", { object: { s } })).toBe(false);
    expect(run("object.s.matches('^(a|a){1,40}$')", { object: { s } })).toBe(false);
    expect(run("object.s.matches(object.p)", { object: { s, p: '^(a|aa)+$' } })).toBe(false);
    expect(Date.now() - started).toBeLessThan(1000);
  });

  it('rejects backreferences and lookaround at compile time', () => {
    expect(() => env.compile("'aa'.matches('(a)\\\\1')")).toThrow(/invalid regular expression.*RE2/);
    expect(() => env.compile("'ab'.matches('a(?=b)')")).toThrow(/invalid regular expression/);
  });

  it('uses RE2 syntax: inline flags, \\z, POSIX classes', () => {
    expect(run("'ABC'.matches('(?i)^abc\\\\z')")).toBe(true);
    expect(run("'abc'.matches('^[[:alpha:]]+$')")).toBe(true);
    expect(run("'a\\rb'.matches('^a.b$')")).toBe(true);
  });

  it('find and findAll', () => {
    expect(run("'abc 123'.find('[0-9]+')")).toBe('123');
    expect(run("'123 abc 456'.findAll('[0-9]+')")).toEqual(['123', '456']);
    expect(run("'123 abc 456'.findAll('[0-9]+', 1)")).toEqual(['123']);
    expect(run("'abc'.find('[0-9]+')")).toBe('');
  });
});

describe('toJson', () => {
  it('writes ints as numbers and huge ints as decimal strings', () => {
    expect(toJson([1n, 2.5, 9223372036854775807n])).toEqual([1, 2.5, '9223372036854775807']);
  });
});
