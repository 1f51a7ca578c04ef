import { parseDuration } from '../../../src/proxy/routing/index.js';

describe('Istio durations', () => {
  it('reads Go-style durations as milliseconds', () => {
    // Istio duration fields: "format: 1h/1m/1s/1ms"; protobuf JSON also writes "0.250s".
    expect(parseDuration('1.5s')).toBe(1500);
    expect(parseDuration('300ms')).toBe(300);
    expect(parseDuration('0.250s')).toBe(250);
    expect(parseDuration('5m')).toBe(300_000);
    expect(parseDuration('1h30m')).toBe(5_400_000);
    expect(parseDuration('0s')).toBe(0);
    expect(parseDuration('0')).toBe(0);
    expect(parseDuration('1500us')).toBe(1.5);
  });

  it('rejects what is not a duration', () => {
    for (const bad of ['', '5', '1.5 seconds', 's', '1d', '-1s', '1s ', 'ms']) expect(parseDuration(bad)).toBeUndefined();
  });
});
