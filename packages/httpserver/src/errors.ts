/**
 * Errors of the HTTP layer. Every error has a `name` equal to its class name and a stable `code`.
 *
 * @module
 */

/** Stable error codes of {@link HTTPInputError} and {@link HTTPOutputError}. */
export const HTTPErrorCode = {
  /** Malformed request or response (request line, header, framing): 400. */
  BAD_REQUEST: 'ERR_HTTP_BAD_REQUEST',
  /** The request line is longer than the server accepts: 414. */
  URI_TOO_LONG: 'ERR_HTTP_URI_TOO_LONG',
  /** The message head is larger than `maxHeaderSize`: 431. */
  HEADER_TOO_LARGE: 'ERR_HTTP_HEADER_TOO_LARGE',
  /** The body is larger than `maxBodySize`: 413. */
  BODY_TOO_LARGE: 'ERR_HTTP_BODY_TOO_LARGE',
  /** The client was too slow sending the head or the body: 408. */
  REQUEST_TIMEOUT: 'ERR_HTTP_REQUEST_TIMEOUT',
  /** A request method the server does not implement: 501. */
  NOT_IMPLEMENTED: 'ERR_HTTP_NOT_IMPLEMENTED',
  /** An HTTP version other than 1.0 and 1.1: 505. */
  VERSION_NOT_SUPPORTED: 'ERR_HTTP_VERSION_NOT_SUPPORTED',
  /** A malformed `multipart/form-data` or `application/x-www-form-urlencoded` body. */
  INVALID_BODY: 'ERR_HTTP_INVALID_BODY',
  /** The application wrote something HTTP/1.1 cannot carry. */
  OUTPUT: 'ERR_HTTP_OUTPUT',
  /** The application wrote more or fewer bytes than the declared `Content-Length`. */
  CONTENT_LENGTH_MISMATCH: 'ERR_HTTP_CONTENT_LENGTH_MISMATCH',
} as const;

/** One of the {@link HTTPErrorCode} values. */
export type HTTPErrorCodeValue = (typeof HTTPErrorCode)[keyof typeof HTTPErrorCode];

/**
 * Bad input from the other side of the connection: a malformed request, an oversized head or
 * body, a timeout. `status` is the HTTP status a server answers with (400, 408, 413, 414, 431, 501, 505).
 *
 * @example
 * ```ts
 * throw new HTTPInputError('Malformed Content-Length', { status: 400 });
 * ```
 */
export class HTTPInputError extends Error {
  override readonly name = 'HTTPInputError';
  /** Stable code, one of {@link HTTPErrorCode}. */
  readonly code: HTTPErrorCodeValue;
  /** The status a server answers this error with. */
  readonly status: number;

  constructor(message: string, opts: { code?: HTTPErrorCodeValue; status?: number; cause?: unknown } = {}) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.status = opts.status ?? 400;
    this.code = opts.code ?? codeForStatus(this.status);
  }
}

function codeForStatus(status: number): HTTPErrorCodeValue {
  switch (status) {
    case 408:
      return HTTPErrorCode.REQUEST_TIMEOUT;
    case 413:
      return HTTPErrorCode.BODY_TOO_LARGE;
    case 414:
      return HTTPErrorCode.URI_TOO_LONG;
    case 431:
      return HTTPErrorCode.HEADER_TOO_LARGE;
    case 501:
      return HTTPErrorCode.NOT_IMPLEMENTED;
    case 505:
      return HTTPErrorCode.VERSION_NOT_SUPPORTED;
    default:
      return HTTPErrorCode.BAD_REQUEST;
  }
}

/** The application tried to write something invalid (bad header, wrong body length, write after finish). */
export class HTTPOutputError extends Error {
  override readonly name = 'HTTPOutputError';
  /** Stable code, one of {@link HTTPErrorCode}. */
  readonly code: HTTPErrorCodeValue;

  constructor(message: string, code: HTTPErrorCodeValue = HTTPErrorCode.OUTPUT) {
    super(message);
    this.code = code;
  }
}
