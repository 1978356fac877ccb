/**
 * `@tornado-ts/httpserver`: a strict HTTP/1.1 implementation (RFC 9112) — header and start-line
 * types, the server-side request object, the HTTP/1 connection for both sides, and HTTPServer.
 *
 * @module
 */
export { HTTPErrorCode, type HTTPErrorCodeValue, HTTPInputError, HTTPOutputError } from './errors';
export { HTTPServer, type HTTPServerOptions, type RequestCallback, RequestContext } from './http-server';
export {
  DEFAULT_CHUNK_SIZE,
  DEFAULT_IDLE_CONNECTION_TIMEOUT,
  DEFAULT_MAX_BODY_SIZE,
  DEFAULT_MAX_HEADER_SIZE,
  HTTP1Connection,
  type HTTP1ConnectionParameters,
  HTTP1ServerConnection,
  MAX_CHUNK_LINE,
  MAX_REQUEST_LINE,
} from './http1connection';
export {
  type Arguments,
  type Files,
  formatTimestamp,
  type HTTPConnection,
  type HTTPFile,
  HTTPHeaders,
  type HTTPMessageDelegate,
  type HTTPRequestContext,
  type HTTPServerConnectionDelegate,
  HTTPServerRequest,
  type HTTPServerRequestOptions,
  isFormContentType,
  parseBodyArguments,
  parseCookie,
  parseHeaderValue,
  parseMultipartFormData,
  parseQsBytes,
  parseRequestStartLine,
  parseResponseStartLine,
  parseUrlencodedBody,
  RequestStartLine,
  ResponseStartLine,
  responses,
  splitHostAndPort,
  urlConcat,
} from './httputil';
export { KNOWN_METHODS } from './parse';
