/**
 * `@tornado-ts/web`: Tornado's web framework layer — {@link Application} (routing table and
 * settings), {@link RequestHandler} (one request: arguments, cookies, output, errors),
 * {@link StaticFileHandler}, signed cookies, xsrf protection, templates and escaping helpers.
 * @module
 */
export { Application, type ApplicationSettings, type ListenOptions } from './application';
export { Finish, HandlerError, HTTPError, MissingArgumentError, RoutingError } from './errors';
export {
  jsonDecode,
  jsonEncode,
  linkify,
  squeeze,
  toUnicode,
  urlEscape,
  urlUnescape,
  utf8,
  xhtmlEscape,
  xhtmlUnescape,
} from './escape';
export { acceptsGzip, compressibleType } from './gzip';
export { ErrorHandler, FallbackHandler, RedirectHandler, type RequestCallback } from './handlers';
export {
  addslash,
  authenticated,
  type CookieOptions,
  type ErrorInfo,
  type GetSignedCookieOptions,
  hasStreamRequestBody,
  RequestHandler,
  removeslash,
  type SignedCookieOptions,
  streamRequestBody,
} from './request-handler';
export {
  type HandlerClass,
  HostMatches,
  type InitArgs,
  type PathMatch,
  PathMatches,
  type RuleSpec,
  URLSpec,
  url,
} from './routing';
export {
  type CookieSecret,
  type CreateSignedValueOptions,
  createSignedValue,
  type DecodeSignedValueOptions,
  decodeSignedValue,
  decodeXsrfToken,
  encodeXsrfToken,
  getSignatureKeyVersion,
  type XsrfToken,
} from './signed-value';
export { parseRequestRange, StaticFileHandler } from './static-file-handler';
export { markSafe, TemplateLoader, type TemplateLoaderOptions } from './template';
