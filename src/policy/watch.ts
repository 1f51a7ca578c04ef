/** Watching policy files and directories, calling back once per burst of changes. */
import { watch, type FSWatcher } from 'node:fs';
import { statSync } from 'node:fs';
import { basename, dirname, resolve } from 'node:path';

export interface Watching {
  close(): void;
}

/**
 * Calls `onChange` `debounceMs` after the last change under any of `paths`. A directory is watched
 * recursively; a file through its parent directory (editors and Kubernetes ConfigMap mounts replace
 * files by rename, which a watch on the file itself would miss).
 */
export function watchPaths(paths: readonly string[], onChange: () => void, onError: (path: string, error: Error) => void, debounceMs = 200): Watching {
  const watchers: FSWatcher[] = [];
  let timer: NodeJS.Timeout | undefined;
  const changed = (): void => {
    if (timer) clearTimeout(timer);
    timer = setTimeout(onChange, debounceMs);
    timer.unref();
  };
  for (const path of new Set(paths.map((p) => resolve(p)))) {
    let isDirectory = false;
    try {
      isDirectory = statSync(path).isDirectory();
    } catch {
      // A missing file: watch its directory so that creating it counts as a change.
    }
    try {
      const watcher = isDirectory
        ? watch(path, { recursive: true, persistent: false }, changed)
        : watch(dirname(path), { persistent: false }, (_event, name) => {
            if (name === null || name === basename(path) || name.startsWith('..')) changed();
          });
      watcher.on('error', (error) => onError(path, error));
      watchers.push(watcher);
    } catch (error) {
      onError(path, error as Error);
    }
  }
  return {
    close() {
      if (timer) clearTimeout(timer);
      for (const watcher of watchers) watcher.close();
    },
  };
}
