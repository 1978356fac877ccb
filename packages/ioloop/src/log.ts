/**
 * Logging channels shared by every tornado-ts layer, after Tornado's `tornado.access`,
 * `tornado.application` and `tornado.general` loggers.
 *
 * Every layer logs through {@link accessLog}, {@link appLog} and {@link genLog}; nothing calls
 * `console.*` directly. {@link configureLogging} sets the level and points the output at the
 * console, pino, or anything else with `debug`/`info`/`warn`/`error` methods.
 *
 * @module
 */

/** A log level; `'silent'` drops everything. */
export type LogLevel = 'debug' | 'info' | 'warn' | 'error' | 'silent';

/** Anything that takes log lines: `console`, a pino logger, or a test's capture object. */
export interface LogSink {
  debug(msg: string, ...args: unknown[]): void;
  info(msg: string, ...args: unknown[]): void;
  warn(msg: string, ...args: unknown[]): void;
  error(msg: string, ...args: unknown[]): void;
}

/** One logging channel. */
export interface Logger extends LogSink {
  /** The channel name: `'tornado.access'`, `'tornado.application'` or `'tornado.general'`. */
  readonly name: string;
  /** Whether a line at `level` would currently reach the sink (skip building costly messages). */
  isEnabledFor(level: Exclude<LogLevel, 'silent'>): boolean;
}

/** Options of {@link configureLogging}. */
export interface LoggingOptions {
  /**
   * Lines below this level are dropped. Default: `'info'`, or `'silent'` under vitest
   * (`process.env.VITEST`), or the `TORNADO_TS_LOG_LEVEL` environment variable when set.
   * When a `sink` is given without a `level`, the level becomes `'debug'` (the sink filters
   * itself, as pino does) unless `TORNADO_TS_LOG_LEVEL` is set.
   */
  level?: LogLevel;
  /**
   * Where lines go. Each method is called as `sink[level](msg, ...args)` with the message exactly
   * as the layer wrote it. `null` restores the default console sink (warn/error on stderr).
   */
  sink?: LogSink | null;
  /**
   * Per-channel levels that override `level`, keyed by channel name
   * (`{ 'tornado.access': 'warn' }`).
   */
  channels?: Record<string, LogLevel>;
}

const RANK: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40, silent: 100 };
const LETTER: Record<Exclude<LogLevel, 'silent'>, string> = { debug: 'D', info: 'I', warn: 'W', error: 'E' };

function isLevel(v: unknown): v is LogLevel {
  return typeof v === 'string' && Object.hasOwn(RANK, v);
}

function envLevel(): LogLevel | undefined {
  const v = process.env.TORNADO_TS_LOG_LEVEL?.trim().toLowerCase();
  return isLevel(v) ? v : undefined;
}

function defaultLevel(): LogLevel {
  return envLevel() ?? (process.env.VITEST ? 'silent' : 'info');
}

function pad2(n: number): string {
  return n < 10 ? `0${n}` : String(n);
}

/** Tornado's console format: `[I 231123 05:26:34 tornado.access] message`. */
function prefix(level: Exclude<LogLevel, 'silent'>, channel: string): string {
  const d = new Date();
  return `[${LETTER[level]} ${pad2(d.getFullYear() % 100)}${pad2(d.getMonth() + 1)}${pad2(d.getDate())} ${pad2(
    d.getHours(),
  )}:${pad2(d.getMinutes())}:${pad2(d.getSeconds())} ${channel}]`;
}

interface State {
  level: LogLevel;
  sink: LogSink | null;
  channels: Record<string, LogLevel>;
}

const state: State = { level: defaultLevel(), sink: null, channels: {} };

function threshold(channel: string): number {
  const own = state.channels[channel];
  return RANK[own ?? state.level];
}

function emit(level: Exclude<LogLevel, 'silent'>, channel: string, msg: string, args: unknown[]): void {
  if (RANK[level] < threshold(channel)) return;
  const sink = state.sink;
  try {
    if (sink) {
      sink[level](msg, ...args);
    } else {
      // console.debug/info go to stdout, console.warn/error to stderr. `msg` is a printf-style
      // format (like Tornado's `%s` logging): pass data as arguments, not inside `msg`.
      console[level](`${prefix(level, channel)} ${msg}`, ...args);
    }
  } catch {
    // A broken sink must never take the caller down with it.
  }
}

function makeLogger(name: string): Logger {
  return Object.freeze({
    name,
    debug: (msg: string, ...args: unknown[]) => emit('debug', name, msg, args),
    info: (msg: string, ...args: unknown[]) => emit('info', name, msg, args),
    warn: (msg: string, ...args: unknown[]) => emit('warn', name, msg, args),
    error: (msg: string, ...args: unknown[]) => emit('error', name, msg, args),
    isEnabledFor: (level: Exclude<LogLevel, 'silent'>) => RANK[level] >= threshold(name),
  });
}

/** Per-request access lines (Tornado's `tornado.access`). */
export const accessLog: Logger = makeLogger('tornado.access');
/** Errors from application code: uncaught exceptions in callbacks and handlers (`tornado.application`). */
export const appLog: Logger = makeLogger('tornado.application');
/** Everything else the layers have to say: protocol errors, bad input, lifecycle (`tornado.general`). */
export const genLog: Logger = makeLogger('tornado.general');

/**
 * Sets the level and/or the sink of every channel. Returns a function that restores the previous
 * configuration (handy in tests' `afterEach`).
 *
 * @example
 * ```ts
 * const lines: string[] = [];
 * const push = (msg: string) => lines.push(msg);
 * const restore = configureLogging({ level: 'warn', sink: { debug: push, info: push, warn: push, error: push } });
 * // ... run code that logs ...
 * restore();
 * ```
 */
export function configureLogging(opts: LoggingOptions = {}): () => void {
  const saved: State = { level: state.level, sink: state.sink, channels: { ...state.channels } };
  if (opts.level !== undefined) {
    if (!isLevel(opts.level)) throw new TypeError(`unknown log level: ${String(opts.level)}`);
    state.level = opts.level;
  } else if (opts.sink) {
    state.level = envLevel() ?? 'debug';
  }
  if (opts.sink !== undefined) {
    const s = opts.sink;
    if (
      s !== null &&
      !['debug', 'info', 'warn', 'error'].every((m) => typeof (s as never)[m] === 'function')
    ) {
      throw new TypeError('a log sink needs debug, info, warn and error methods');
    }
    state.sink = s;
  }
  if (opts.channels !== undefined) {
    for (const [k, v] of Object.entries(opts.channels)) {
      if (!isLevel(v)) throw new TypeError(`unknown log level for ${k}: ${String(v)}`);
    }
    state.channels = { ...opts.channels };
  }
  return () => {
    state.level = saved.level;
    state.sink = saved.sink;
    state.channels = saved.channels;
  };
}

/** Restores the default level (from the environment) and the console sink. */
export function resetLogging(): void {
  state.level = defaultLevel();
  state.sink = null;
  state.channels = {};
}

/** A printable one-line description of a thrown value, with its stack when it has one. */
export function describeError(err: unknown): string {
  if (err instanceof Error) return err.stack ?? `${err.name}: ${err.message}`;
  try {
    return String(err);
  } catch {
    return Object.prototype.toString.call(err);
  }
}
