import { randomBytes } from 'node:crypto';
import {
  type ChatMessage,
  cleanMessage,
  HISTORY_SIZE,
  type MessageStore,
  type NewMessage,
  type ProcessStats,
  type StoredImage,
} from './store';

/** Options of {@link MemoryStore}. */
export interface MemoryStoreOptions {
  /** Messages kept (default {@link HISTORY_SIZE}). */
  historySize?: number;
  /** Total bytes of images kept; the oldest are dropped past it (default 64 MiB). */
  maxImageBytes?: number;
}

/**
 * The room in this process's memory: the default store, right for one process. Subscribers are
 * called synchronously, in id order, from {@link MemoryStore.add}.
 */
export class MemoryStore implements MessageStore {
  readonly kind = 'memory' as const;
  #messages: ChatMessage[] = [];
  #nextId = 1;
  #listeners = new Set<(message: ChatMessage) => void>();
  #images = new Map<string, StoredImage>();
  #imageBytes = 0;
  #stats: ProcessStats | null = null;
  readonly #historySize: number;
  readonly #maxImageBytes: number;

  constructor(opts: MemoryStoreOptions = {}) {
    this.#historySize = opts.historySize ?? HISTORY_SIZE;
    this.#maxImageBytes = opts.maxImageBytes ?? 64 * 1024 * 1024;
  }

  async add(message: NewMessage): Promise<ChatMessage> {
    const clean = cleanMessage(message);
    const stored: ChatMessage = { id: this.#nextId++, ...clean, time: Date.now() };
    this.#messages.push(stored);
    if (this.#messages.length > this.#historySize) {
      this.#messages.splice(0, this.#messages.length - this.#historySize);
    }
    for (const listener of [...this.#listeners]) listener(stored);
    return stored;
  }

  since(cursor?: number): ChatMessage[] {
    if (cursor === undefined) return this.#messages.slice();
    // Ids are dense and increasing, so the first newer message sits at a computable index.
    const first = this.#messages[0];
    if (!first) return [];
    const start = Math.max(0, cursor - first.id + 1);
    return this.#messages.slice(start);
  }

  lastId(): number {
    return this.#nextId - 1;
  }

  subscribe(listener: (message: ChatMessage) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  async saveImage(image: StoredImage): Promise<string> {
    const id = randomBytes(16).toString('hex');
    this.#images.set(id, image);
    this.#imageBytes += image.data.length;
    for (const [oldId, old] of this.#images) {
      if (this.#imageBytes <= this.#maxImageBytes || oldId === id) break;
      this.#images.delete(oldId);
      this.#imageBytes -= old.data.length;
    }
    return id;
  }

  async loadImage(id: string): Promise<StoredImage | null> {
    return this.#images.get(id) ?? null;
  }

  async ping(): Promise<void> {}

  async reportStats(stats: ProcessStats): Promise<void> {
    this.#stats = { ...stats };
  }

  async allStats(): Promise<ProcessStats[]> {
    return this.#stats ? [{ ...this.#stats }] : [];
  }

  async forgetStats(key: string): Promise<void> {
    if (this.#stats?.key === key) this.#stats = null;
  }

  async close(): Promise<void> {
    this.#listeners.clear();
    this.#images.clear();
    this.#imageBytes = 0;
  }
}
