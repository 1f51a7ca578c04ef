import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BatchedFile } from '../../src/telemetry/batched-file.js';

describe('BatchedFile', () => {
  const dir = mkdtempSync(join(tmpdir(), 'celgate-batched-'));

  test('every line arrives once, in order and byte for byte: many batches, multi-byte text, a line longer than a chunk', async () => {
    const file = join(dir, 'mixed.log');
    const log = new BatchedFile(file);
    const expected: string[] = [];
    for (let i = 0; i < 5000; i++) {
      // Lines that straddle chunk ends, some with 2-, 3- and 4-byte UTF-8 characters.
      const line = `{"n":${i},"text":"${i % 7 === 0 ? 'ünïcødé ✓ 🚀' : 'plain'}${'x'.repeat(i % 300)}"}\n`;
      expected.push(line);
      log.write(line);
      if (i === 2500) {
        const long = `{"long":"${'€'.repeat(40_000)}"}\n`; // ~120 KB of UTF-8, several chunks' worth
        expected.push(long);
        log.write(long);
      }
    }
    await log.close();
    expect(readFileSync(file, 'utf8')).toBe(expected.join(''));
    expect(log.dropped).toBe(0);
  });

  test('a quiet writer\'s line is written within the flush delay, without flush()', async () => {
    const file = join(dir, 'quiet.log');
    const log = new BatchedFile(file);
    log.write('one line\n');
    const deadline = Date.now() + 2000;
    let seen = '';
    while (Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 50));
      try {
        seen = readFileSync(file, 'utf8');
      } catch {
        // not created yet
      }
      if (seen !== '') break;
    }
    expect(seen).toBe('one line\n');
    await log.close();
  });

  test('lines written after close are counted as dropped, not written', async () => {
    const file = join(dir, 'closed.log');
    const log = new BatchedFile(file);
    log.write('kept\n');
    await log.close();
    log.write('late\n');
    expect(log.dropped).toBe(1);
    expect(readFileSync(file, 'utf8')).toBe('kept\n');
  });
});
