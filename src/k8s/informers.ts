/**
 * One informer per served kind: client-node's ListWatch (list, then watch from the list's
 * resourceVersion; on a 410 Gone it clears the resourceVersion and lists again), wrapped with what
 * it lacks in 1.4: after a failed list or a broken watch it reports the error and stops, so this
 * restarts it with exponential backoff (the watch resumes from the last resourceVersion seen, so no
 * event is lost); it asks for bookmarks (which keep that resourceVersion fresh) and for a server-side
 * watch timeout (so a silently dead connection is replaced); and it fills in apiVersion/kind, which
 * list responses leave out of their items.
 */
import { ListWatch, Watch, type KubeConfig, type KubernetesListObject, type KubernetesObject } from '@kubernetes/client-node';
import type { KubeClient } from './client.js';
import { apiVersionOf, collectionPath, type ServedKind } from './discovery.js';

export interface InformerOptions {
  /** Called after every add, update or delete (including the ones a re-list finds). */
  readonly onChange: () => void;
  /** Called when the list or watch failed; it is retried after `retryInMs`. */
  readonly onError?: (error: unknown, retryInMs: number) => void;
  readonly initialBackoffMs?: number;
  readonly maxBackoffMs?: number;
  /** Asks the server to end each watch after about this long (it is then resumed). Default 300. */
  readonly watchTimeoutSeconds?: number;
  /** List and watch one namespace's objects of a namespaced kind; absent: all namespaces. */
  readonly namespace?: string;
}

type WatchCallback = (phase: string, object: unknown, raw: unknown) => void;
type DoneCallback = (error: unknown) => void;

/** client-node's Watch with the query parameters its ListWatch does not set. */
class BookmarkingWatch extends Watch {
  readonly #timeoutSeconds: number;

  constructor(config: KubeConfig, timeoutSeconds: number) {
    super(config);
    this.#timeoutSeconds = timeoutSeconds;
  }

  override watch(path: string, queryParams: Record<string, string | number | boolean | undefined>, callback: WatchCallback, done: DoneCallback): Promise<AbortController> {
    // A little jitter so replicas do not all reconnect at once.
    const timeout = Math.round(this.#timeoutSeconds * (1 + Math.random() * 0.2));
    return super.watch(path, { ...queryParams, allowWatchBookmarks: true, timeoutSeconds: timeout }, callback, done);
  }
}

export class KindInformer {
  readonly kind: ServedKind;
  readonly synced: Promise<void>;
  readonly #listWatch: ListWatch<KubernetesObject>;
  readonly #options: InformerOptions;
  #resolveSynced!: () => void;
  #listed = false;
  #stopped = false;
  #failures = 0;
  #retry: NodeJS.Timeout | undefined;

  constructor(config: KubeConfig, client: KubeClient, kind: ServedKind, options: InformerOptions) {
    this.kind = kind;
    this.#options = options;
    this.synced = new Promise((resolve) => (this.#resolveSynced = resolve));
    const path = collectionPath(kind, options.namespace);
    const apiVersion = apiVersionOf(kind);
    const list = async (): Promise<KubernetesListObject<KubernetesObject>> => {
      const answer = await client.get<KubernetesListObject<KubernetesObject>>(path);
      this.#failures = 0;
      this.#listed = true;
      return { ...answer, items: (answer.items ?? []).map((item) => ({ ...item, apiVersion, kind: kind.kind })) };
    };
    const watch = new BookmarkingWatch(config, options.watchTimeoutSeconds ?? 300);
    this.#listWatch = new ListWatch(path, watch, list, false);
    const changed = (): void => {
      this.#failures = 0;
      options.onChange();
    };
    this.#listWatch.on('add', changed);
    this.#listWatch.on('update', changed);
    this.#listWatch.on('delete', changed);
    this.#listWatch.on('error', (error: unknown) => this.#failed(error));
  }

  start(): void {
    this.#stopped = false;
    void this.#listWatch.start().then(() => {
      if (this.#listed) this.#resolveSynced();
    });
  }

  /** The objects as last seen, each with apiVersion and kind. */
  objects(): readonly KubernetesObject[] {
    return this.#listWatch.list();
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    if (this.#retry) clearTimeout(this.#retry);
    await this.#listWatch.stop();
  }

  #failed(error: unknown): void {
    if (this.#stopped) return;
    this.#failures++;
    const initial = this.#options.initialBackoffMs ?? 200;
    const max = this.#options.maxBackoffMs ?? 30_000;
    const delay = Math.min(max, initial * 2 ** (this.#failures - 1)) * (0.8 + Math.random() * 0.4);
    this.#options.onError?.(error, Math.round(delay));
    if (this.#retry) clearTimeout(this.#retry);
    this.#retry = setTimeout(() => {
      this.#retry = undefined;
      if (!this.#stopped) this.start();
    }, delay);
    this.#retry.unref?.();
  }
}
