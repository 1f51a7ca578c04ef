import { limitWarnings, WARNING_ITEM_RUNES, WARNING_TOTAL_RUNES } from '../../src/admission/warnings.js';

// Kubernetes docs (extensible-admission-controllers, "Response"): "Individual warning messages over
// 256 characters may be truncated by the API server before being returned to clients. If more than
// 4096 characters of warning messages are added (from all sources), additional warning messages are
// ignored." The apiserver's warning recorder dedupes, and truncates items only once the total is exceeded.
describe('limitWarnings', () => {
  it('keeps warnings whole while their total fits, dropping empty ones and duplicates', () => {
    const long = 'x'.repeat(1000);
    expect(limitWarnings(['a', '', 'b', 'a', long])).toEqual(['a', 'b', long]);
  });

  it('cuts every warning to 256 characters (runes, not UTF-16 units) once the total exceeds 4096', () => {
    const warnings = Array.from({ length: 20 }, (_, i) => `${i}:${'é'.repeat(400)}`);
    const limited = limitWarnings(warnings);
    for (const warning of limited) expect(Array.from(warning).length).toBeLessThanOrEqual(WARNING_ITEM_RUNES);
    expect(limited[0]).toBe(`0:${'é'.repeat(254)}`);
    // 16 items of 256 runes make 4096; the recorder stops adding once that total is reached.
    expect(limited).toHaveLength(WARNING_TOTAL_RUNES / WARNING_ITEM_RUNES);
  });

  it('cuts astral characters whole', () => {
    const warnings = Array.from({ length: 20 }, () => '😀'.repeat(300));
    const limited = limitWarnings([...warnings.map((w, i) => w + i)]);
    expect(Array.from(limited[0]!)).toHaveLength(256);
    expect(limited[0]!.endsWith('😀')).toBe(true);
  });
});
