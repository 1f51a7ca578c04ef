/** `celgate proxy`: usage and configuration errors exit 2 with the error text. */
import { jest } from '@jest/globals';
import { join } from 'node:path';
import { proxyCommand } from '../../../src/cli/commands/proxy.js';
import { UsageError } from '../../../src/cli/usage.js';
import { tempDir, write } from './mesh.js';

describe('celgate proxy', () => {
  test('--help prints the usage and exits 0', async () => {
    const log = jest.spyOn(console, 'log').mockImplementation(() => {});
    try {
      expect(await proxyCommand.run(['--help'])).toBe(0);
      expect(String(log.mock.calls[0]?.[0])).toContain('Usage: celgate proxy --config FILE');
    } finally {
      log.mockRestore();
    }
  });

  test('a missing --config is a usage error', async () => {
    await expect(proxyCommand.run([])).rejects.toThrow(UsageError);
    await expect(proxyCommand.run(['--config', 'x.yaml', '--path-normalization', 'WRONG'])).rejects.toThrow(/--path-normalization: 'WRONG'/);
  });

  test('a config file that does not load exits 2 naming the file', async () => {
    const errors: string[] = [];
    const error = jest.spyOn(console, 'error').mockImplementation((text: unknown) => void errors.push(String(text)));
    try {
      const missing = join(tempDir(), 'nope.yaml');
      expect(await proxyCommand.run(['--config', missing])).toBe(2);
      expect(errors.join('\n')).toContain(missing);
      const bad = write(tempDir(), 'proxy.yaml', 'apiVersion: celgate.dev/v1alpha1\nkind: ProxyConfig\nspec: [not, a, map]\n');
      expect(await proxyCommand.run(['--config', bad])).toBe(2);
      expect(errors.join('\n')).toMatch(new RegExp(`${bad.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}:\\d+`));
    } finally {
      error.mockRestore();
    }
  });
});
