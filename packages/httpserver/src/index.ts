/**
 * `@tornado-ts/httpserver`: a strict HTTP/1.1 implementation (RFC 9112) — header and start-line
 * types, the server-side request object, the HTTP/1 connection for both sides, and HTTPServer.
 *
 * @module
 */
export { HTTPErrorCode, type HTTPErrorCodeValue, HTTPInputError, HTTPOutputError } from './errors';
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
