/**
 * Counters and histograms for per-request series, cheaper than prom-client's labelled metrics
 * on the hot path (no label hashing per call: callers hold on to a series' cell). They implement
 * the part of prom-client's metric contract a Registry reads (name, help, type, aggregator, get,
 * reset), so they are registered with `registry.registerMetric` beside ordinary metrics.
 */

type Labels = Readonly<Record<string, string>>;

export class FastCounter {
  readonly type = 'counter';
  readonly aggregator = 'sum';
  readonly #series = new Map<string, { readonly labels: Labels; value: number }>();

  constructor(
    readonly name: string,
    readonly help: string,
  ) {}

  /** The series for `key`, created with `labels()` on first use. */
  cell(key: string, labels: () => Labels): { value: number } {
    let cell = this.#series.get(key);
    if (cell === undefined) {
      cell = { labels: labels(), value: 0 };
      this.#series.set(key, cell);
    }
    return cell;
  }

  async get() {
    const values = [...this.#series.values()].map((s) => ({ labels: s.labels, value: s.value }));
    return { name: this.name, help: this.help, type: this.type, aggregator: this.aggregator, values };
  }

  /** Zeroes the series (they stay known: the request path holds on to their cells). */
  reset(): void {
    for (const cell of this.#series.values()) cell.value = 0;
  }
}

export class HistogramCell {
  /** Per-bucket counts (not cumulative); the last slot is +Inf. */
  readonly counts: Float64Array;
  sum = 0;
  count = 0;

  constructor(
    readonly labels: Labels,
    private readonly bounds: readonly number[],
  ) {
    this.counts = new Float64Array(bounds.length + 1);
  }

  observe(value: number): void {
    let i = 0;
    while (i < this.bounds.length && value > this.bounds[i]!) i++;
    this.counts[i]!++;
    this.sum += value;
    this.count++;
  }

  reset(): void {
    this.counts.fill(0);
    this.sum = 0;
    this.count = 0;
  }
}

export class FastHistogram {
  readonly type = 'histogram';
  readonly aggregator = 'sum';
  readonly #series = new Map<string, HistogramCell>();

  constructor(
    readonly name: string,
    readonly help: string,
    private readonly bounds: readonly number[],
  ) {}

  cell(key: string, labels: () => Labels): HistogramCell {
    let cell = this.#series.get(key);
    if (cell === undefined) {
      cell = new HistogramCell(labels(), this.bounds);
      this.#series.set(key, cell);
    }
    return cell;
  }

  async get() {
    const values: { metricName: string; labels: Labels; value: number }[] = [];
    for (const cell of this.#series.values()) {
      let cumulative = 0;
      this.bounds.forEach((bound, i) => {
        cumulative += cell.counts[i]!;
        values.push({ metricName: `${this.name}_bucket`, labels: { le: String(bound), ...cell.labels }, value: cumulative });
      });
      values.push({ metricName: `${this.name}_bucket`, labels: { le: '+Inf', ...cell.labels }, value: cell.count });
      values.push({ metricName: `${this.name}_sum`, labels: cell.labels, value: cell.sum });
      values.push({ metricName: `${this.name}_count`, labels: cell.labels, value: cell.count });
    }
    return { name: this.name, help: this.help, type: this.type, aggregator: this.aggregator, values };
  }

  reset(): void {
    for (const cell of this.#series.values()) cell.reset();
  }
}
