/** One chat message as every store keeps it and every client receives it. */
export interface ChatMessage {
  /** Room-wide, strictly increasing id; clients use it as their cursor. */
  id: number;
  /** The name of the user who sent it. */
  from: string;
  /** The text (may be empty when the message carries an image). */
  body: string;
  /** URL path of an uploaded image shown with the message, if any. */
  image?: string;
  /** When the message was accepted, milliseconds since the epoch. */
  time: number;
}

/** What a sender supplies; the store assigns `id` and `time`. */
export interface NewMessage {
  from: string;
  body: string;
  image?: string;
}

/** An uploaded image kept by a store. */
export interface StoredImage {
  data: Buffer;
  contentType: string;
}

/** The counters one serving process reports, shown on `/stats`. */
export interface ProcessStats {
  /** `hostname:pid` — unique per process across machines. */
  key: string;
  pid: number;
  hostname: string;
  /** Worker task id under `--processes N`, `null` when single-process. */
  taskId: number | null;
  startedAt: number;
  updatedAt: number;
  requests: number;
  openConnections: number;
  longPolls: number;
  lineClients: number;
  rssBytes: number;
}

/**
 * Where the room lives. The in-memory store serves one process; the Redis store makes every
 * process (and machine) pointing at the same Redis one room. Both keep the last
 * {@link HISTORY_SIZE} messages and tell subscribers about each new message exactly once, in
 * id order.
 */
export interface MessageStore {
  readonly kind: 'memory' | 'redis';
  /** Appends a message to the room and resolves with it once every subscriber can see it. */
  add(message: NewMessage): Promise<ChatMessage>;
  /**
   * The kept messages with an id greater than `cursor` (all kept messages without one), oldest
   * first. Synchronous: served from the process-local view of the room.
   */
  since(cursor?: number): ChatMessage[];
  /** The id of the newest message this process knows (0 when the room is empty). */
  lastId(): number;
  /** Calls `listener` for each new message; returns the unsubscribe function. */
  subscribe(listener: (message: ChatMessage) => void): () => void;
  /** Keeps an uploaded image and resolves with its id. */
  saveImage(image: StoredImage): Promise<string>;
  /** The image with that id, or `null` when unknown or expired. */
  loadImage(id: string): Promise<StoredImage | null>;
  /** Resolves when the backing store answers; rejects otherwise (used by `/healthz`). */
  ping(): Promise<void>;
  /** Publishes this process's counters so `/stats` on any process can show them. */
  reportStats(stats: ProcessStats): Promise<void>;
  /** Removes this process's row from `/stats` (on a clean shutdown). */
  forgetStats(key: string): Promise<void>;
  /** The counters of every live process sharing the room, sorted by key. */
  allStats(): Promise<ProcessStats[]>;
  /** Releases connections and timers; the store must not be used afterwards. */
  close(): Promise<void>;
}

/** How many messages a room keeps. */
export const HISTORY_SIZE = 200;

/** Longest user name accepted, in characters. */
export const MAX_NAME_LENGTH = 32;

/** Longest message body accepted, in characters. */
export const MAX_BODY_LENGTH = 2000;

/** Image ids are 32 lowercase hex characters. */
export const IMAGE_ID_PATTERN = /^[0-9a-f]{32}$/;

/** Raised for a message or name that the room refuses. */
export class InvalidMessageError extends Error {
  override readonly name = 'InvalidMessageError';
  readonly code = 'ERR_DEMO_INVALID_MESSAGE';
}

// biome-ignore lint/suspicious/noControlCharactersInRegex: stripping control characters is the point
const CONTROL_CHARS = /[\u0000-\u001f\u007f]/g;
// biome-ignore lint/suspicious/noControlCharactersInRegex: keeps tabs and newlines, drops other controls
const BODY_CONTROL_CHARS = /[\u0000-\u0008\u000b-\u001f\u007f]/g;

/**
 * Normalises a user name: trimmed, inner whitespace collapsed, control characters removed.
 * @throws InvalidMessageError when nothing is left or it is longer than {@link MAX_NAME_LENGTH}.
 */
export function cleanName(raw: string): string {
  const name = raw.replace(CONTROL_CHARS, '').replace(/\s+/g, ' ').trim();
  if (name.length === 0) throw new InvalidMessageError('a name is required');
  if (name.length > MAX_NAME_LENGTH) {
    throw new InvalidMessageError(`a name is at most ${MAX_NAME_LENGTH} characters`);
  }
  return name;
}

/**
 * Checks and normalises a message before it enters a store.
 * @throws InvalidMessageError for an empty message or one over {@link MAX_BODY_LENGTH}.
 */
export function cleanMessage(message: NewMessage): NewMessage {
  const from = cleanName(message.from);
  const body = message.body.replace(BODY_CONTROL_CHARS, '').trim();
  if (body.length > MAX_BODY_LENGTH) {
    throw new InvalidMessageError(`a message is at most ${MAX_BODY_LENGTH} characters`);
  }
  if (body.length === 0 && !message.image) throw new InvalidMessageError('a message is empty');
  return message.image ? { from, body, image: message.image } : { from, body };
}
