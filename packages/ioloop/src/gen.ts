import { TimeoutError } from './errors';
import { isThenable } from './future';
import { IOLoop } from './ioloop';
import { appLog } from './log';

// biome-ignore lint/suspicious/noExplicitAny: error classes of any constructor shape.
type ErrorClass = abstract new (...args: any[]) => unknown;

/** Options of {@link withTimeout} and {@link multi}. */
export interface QuietOptions {
  /** Exception classes that are not logged when they arrive too late to be reported. */
  quietExceptions?: ErrorClass | readonly ErrorClass[];
}

function isQuiet(err: unknown, quiet: QuietOptions['quietExceptions']): boolean {
  if (quiet === undefined) return false;
  const list = Array.isArray(quiet) ? quiet : [quiet as ErrorClass];
  return list.some((cls) => err instanceof cls);
}

/**
 * Resolves after `seconds` (on the current IOLoop's clock).
 *
 * @example
 * ```ts
 * await sleep(0.1);
 * ```
 */
export function sleep(seconds: number): Promise<void> {
  return new Promise<void>((resolve) => {
    IOLoop.current().callLater(seconds, resolve);
  });
}

/**
 * Resolves or rejects like `awaitable`, unless it takes longer than `timeout` seconds: then the
 * result rejects with {@link TimeoutError}. The wrapped work is not cancelled; if it later fails,
 * its exception is logged on `appLog` (unless listed in `quietExceptions`), never left unhandled.
 *
 * @example
 * ```ts
 * const body = await withTimeout(5, stream.readUntil('\r\n\r\n'));
 * ```
 */
export function withTimeout<T>(
  timeout: number,
  awaitable: PromiseLike<T>,
  opts: QuietOptions = {},
): Promise<T> {
  const loop = IOLoop.current();
  return new Promise<T>((resolve, reject) => {
    let settled = false;
    const handle = loop.callLater(timeout, () => {
      if (settled) return;
      settled = true;
      reject(new TimeoutError('Timeout'));
    });
    awaitable.then(
      (value) => {
        if (settled) return;
        settled = true;
        loop.removeTimeout(handle);
        resolve(value);
      },
      (err) => {
        if (settled) {
          if (!isQuiet(err, opts.quietExceptions)) appLog.error('Exception in Future after timeout:', err);
          return;
        }
        settled = true;
        loop.removeTimeout(handle);
        reject(err);
      },
    );
  });
}

type Settled = { ok: true; value: unknown } | { ok: false; error: unknown };

/**
 * Waits for every awaitable of an array or a record (plain values pass through) and resolves
 * with their results in the same shape. Like Tornado, it waits for all children; if some fail,
 * the first failure (in order) rejects the result and the others are logged on `appLog` (unless
 * listed in `quietExceptions`).
 *
 * @example
 * ```ts
 * const [a, b] = await multi([fetchA(), fetchB()]);
 * const { user, posts } = await multi({ user: getUser(), posts: getPosts() });
 * ```
 */
export function multi<const T extends readonly unknown[]>(
  children: T,
  opts?: QuietOptions,
): Promise<{ -readonly [K in keyof T]: Awaited<T[K]> }>;
export function multi<T extends Record<string, unknown>>(
  children: T,
  opts?: QuietOptions,
): Promise<{ [K in keyof T]: Awaited<T[K]> }>;
export function multi(
  children: readonly unknown[] | Record<string, unknown>,
  opts: QuietOptions = {},
): Promise<unknown> {
  const isList = Array.isArray(children);
  const keys = isList ? null : Object.keys(children);
  const values: unknown[] = isList
    ? [...(children as unknown[])]
    : keys!.map((k) => (children as Record<string, unknown>)[k]);
  return new Promise((resolve, reject) => {
    const n = values.length;
    const outcomes: Settled[] = new Array(n);
    let remaining = n;
    const finish = (): void => {
      let failed = false;
      const results: unknown[] = new Array(n);
      for (let i = 0; i < n; i++) {
        const o = outcomes[i]!;
        if (o.ok) {
          results[i] = o.value;
        } else if (!failed) {
          failed = true;
          reject(o.error);
        } else if (!isQuiet(o.error, opts.quietExceptions)) {
          appLog.error('Multiple exceptions in yield list:', o.error);
        }
      }
      if (failed) return;
      if (keys === null) resolve(results);
      else resolve(Object.fromEntries(keys.map((k, i) => [k, results[i]])));
    };
    if (n === 0) {
      finish();
      return;
    }
    values.forEach((v, i) => {
      if (!isThenable(v)) {
        outcomes[i] = { ok: true, value: v };
        if (--remaining === 0) finish();
        return;
      }
      v.then(
        (value) => {
          outcomes[i] = { ok: true, value };
          if (--remaining === 0) finish();
        },
        (error) => {
          outcomes[i] = { ok: false, error };
          if (--remaining === 0) finish();
        },
      );
    });
  });
}

/** Tornado's name for {@link multi}. */
export const multiFuture = multi;

/**
 * `await moment` yields to the IOLoop for one iteration (lets pending callbacks and I/O run),
 * like Tornado's `gen.moment`.
 */
export const moment: PromiseLike<void> = Object.freeze({
  // biome-ignore lint/suspicious/noThenProperty: moment is an awaitable by design.
  then<R1 = void, R2 = never>(
    // biome-ignore lint/suspicious/noConfusingVoidType: mirrors PromiseLike<void>.then.
    onfulfilled?: ((value: void) => R1 | PromiseLike<R1>) | null,
    // biome-ignore lint/suspicious/noExplicitAny: same signature as PromiseLike.then.
    onrejected?: ((reason: any) => R2 | PromiseLike<R2>) | null,
  ): PromiseLike<R1 | R2> {
    return new Promise<void>((resolve) => IOLoop.current().addCallback(resolve)).then(
      onfulfilled,
      onrejected,
    );
  },
});
