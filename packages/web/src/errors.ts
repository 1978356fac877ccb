import { STATUS_CODES } from 'node:http';

/**
 * An exception that becomes an HTTP error response.
 *
 * Raising `HTTPError` from a handler method is the usual way to end a request with an error status:
 * the handler's `writeError` renders the page, `logMessage` goes to the log (with `%s`
 * placeholders filled from `args`), and `reason` replaces the standard reason phrase.
 *
 * @example
 * ```ts
 * throw new HTTPError(404, 'item %s not found', null, [id]);
 * throw new HTTPError(418, null, "I'm a teapot");
 * ```
 */
export class HTTPError extends Error {
  override readonly name: string = 'HTTPError';
  /** A stable code for programmatic checks. */
  readonly code: string = 'ERR_HTTP_ERROR';
  /** The HTTP status code of the response. */
  readonly statusCode: number;
  /** The message for the log (never shown to the client). */
  readonly logMessage: string | null;
  /** Arguments substituted into `logMessage`'s `%s` placeholders. */
  readonly args: unknown[];
  /** A reason phrase for the status line; required for non-standard codes. */
  readonly reason: string | null;

  /**
   * @param statusCode the response status (500 by default)
   * @param logMessage logged, not shown to the client; `%s` placeholders take `args`
   * @param reason the reason phrase of the status line (an array here is taken as `args`)
   * @param args values for the `%s` placeholders of `logMessage`
   */
  constructor(
    statusCode = 500,
    logMessage?: string | null,
    reason?: string | null | unknown[],
    args: unknown[] = [],
  ) {
    const r = Array.isArray(reason) ? null : (reason ?? null);
    if (Array.isArray(reason)) args = reason;
    super(`HTTP ${statusCode}: ${r ?? STATUS_CODES[statusCode] ?? 'Unknown'}`);
    this.statusCode = statusCode;
    this.logMessage = logMessage ?? null;
    this.args = args;
    this.reason = r;
    if (logMessage) this.message += ` (${formatLog(logMessage, args)})`;
  }
}

/** Substitutes `%s` / `%d` / `%r` placeholders the way Tornado's log messages use them. */
export function formatLog(msg: string, args: readonly unknown[]): string {
  if (args.length === 0) return msg;
  let i = 0;
  return msg.replace(/%[sdr]/g, (m) => (i < args.length ? String(args[i++]) : m));
}

/**
 * Thrown to end a request without producing an error: the handler finishes with whatever it has
 * written so far (like Tornado's `raise Finish()`).
 */
export class Finish extends Error {
  override readonly name: string = 'Finish';
  readonly code: string = 'ERR_FINISH';
  /** Written before finishing (like `raise Finish(chunk)`). */
  readonly chunk: string | Uint8Array | Record<string, unknown> | undefined;
  constructor(chunk?: string | Uint8Array | Record<string, unknown>) {
    super('Finish');
    this.chunk = chunk;
  }
}

/** A required argument was missing: a 400 response naming the argument. */
export class MissingArgumentError extends HTTPError {
  override readonly name: string = 'MissingArgumentError';
  override readonly code: string = 'ERR_MISSING_ARGUMENT';
  /** The name of the missing argument. */
  readonly argName: string;
  constructor(argName: string) {
    super(400, `Missing argument ${argName}`);
    this.argName = argName;
  }
}

/** A routing table entry is invalid (bad pattern, mixed positional and named groups...). */
export class RoutingError extends Error {
  override readonly name: string = 'RoutingError';
  readonly code: string = 'ERR_ROUTING';
}

/** A programming error in how a handler uses the response (writing after finish, bad header...). */
export class HandlerError extends Error {
  override readonly name: string = 'HandlerError';
  readonly code: string;
  constructor(message: string, code = 'ERR_HANDLER') {
    super(message);
    this.code = code;
  }
}
