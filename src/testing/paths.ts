/**
 * Expanding the paths a PolicyTest names: files, directories (every YAML/JSON file under
 * them) and simple globs (`*`, `**`, `?`, `[abc]`, `{a,b}`). Node 20's path.matchesGlob
 * prints an ExperimentalWarning, so the matcher is a small one of our own.
 */
import { readdirSync, statSync } from 'node:fs';
import { extname, isAbsolute, join, relative, resolve, sep } from 'node:path';

const DATA_EXTENSIONS = new Set(['.yaml', '.yml', '.json']);

export function hasGlob(pattern: string): boolean {
  return /[*?[{]/.test(pattern);
}

/** Compiles a glob (with `/` separators) to an anchored RegExp. */
export function globToRegExp(glob: string): RegExp {
  let out = '';
  let braces = 0;
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i]!;
    if (c === '*') {
      if (glob[i + 1] === '*') {
        // `**/` matches any number of directories, including none.
        const slash = glob[i + 2] === '/';
        out += slash ? '(?:[^/]*/)*' : '.*';
        i += slash ? 2 : 1;
      } else out += '[^/]*';
    } else if (c === '?') out += '[^/]';
    else if (c === '[') {
      const end = glob.indexOf(']', i + 1);
      if (end < 0) out += '\\[';
      else {
        const body = glob.slice(i + 1, end).replace(/^!/, '^').replace(/\\/g, '\\\\');
        out += `[${body}]`;
        i = end;
      }
    } else if (c === '{') {
      braces++;
      out += '(?:';
    } else if (c === '}' && braces > 0) {
      braces--;
      out += ')';
    } else if (c === ',' && braces > 0) out += '|';
    else out += c.replace(/[.+^$()|\\]/g, '\\$&');
  }
  return new RegExp(`^${out}$`);
}

/** Every YAML/JSON file under a directory, sorted, skipping dot-entries and node_modules. */
export function walkDataFiles(dir: string, out: string[] = []): string[] {
  let entries;
  try {
    entries = readdirSync(dir, { withFileTypes: true });
  } catch {
    return out;
  }
  entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  for (const entry of entries) {
    if (entry.name.startsWith('.') || entry.name === 'node_modules') continue;
    const path = join(dir, entry.name);
    if (entry.isDirectory()) walkDataFiles(path, out);
    else if (DATA_EXTENSIONS.has(extname(entry.name))) out.push(path);
  }
  return out;
}

export type Expansion = { readonly files: string[] } | { readonly error: string };

/** Expands one path or glob relative to `base`; a path or glob that finds no file is an error. */
export function expandPath(base: string, pattern: string): Expansion {
  const absolute = isAbsolute(pattern) ? pattern : resolve(base, pattern);
  if (!hasGlob(pattern)) {
    let info;
    try {
      info = statSync(absolute);
    } catch {
      return { error: `no such file or directory: ${pattern}` };
    }
    if (!info.isDirectory()) return { files: [absolute] };
    const files = walkDataFiles(absolute);
    return files.length > 0 ? { files } : { error: `directory ${pattern} holds no YAML or JSON files` };
  }
  // Walk from the longest directory prefix without glob characters.
  const parts = absolute.split(sep);
  const firstGlob = parts.findIndex(hasGlob);
  const root = parts.slice(0, firstGlob).join(sep) || sep;
  const matcher = globToRegExp(parts.slice(firstGlob).join('/'));
  const files = walkDataFiles(root).filter((file) => matcher.test(relative(root, file).split(sep).join('/')));
  return files.length > 0 ? { files } : { error: `no file matches ${pattern}` };
}
