import { HTTPHeaders, RequestStartLine, type ResponseStartLine } from '@tornado-ts/httpserver';
import { Client } from 'undici';
import type { Application } from '../src/application';

/** A response as the tests see it. */
export interface TestResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
  text(): string;
  json(): Record<string, unknown>;
  header(name: string): string | undefined;
  cookies(): string[];
}

/** Options of {@link TestClient.request}. */
export interface RequestOptions {
  headers?: Record<string, string>;
  body?: string | Buffer;
}

/** Sends requests to an application. */
export interface TestClient {
  request(method: string, path: string, opts?: RequestOptions): Promise<TestResponse>;
  get(path: string, opts?: RequestOptions): Promise<TestResponse>;
  post(path: string, opts?: RequestOptions): Promise<TestResponse>;
  url(path: string): string;
  close(): Promise<void>;
}

function makeResponse(status: number, headers: Record<string, string | string[] | undefined>, body: Buffer) {
  return {
    status,
    headers,
    body,
    text: () => body.toString('utf8'),
    json: () => JSON.parse(body.toString('utf8')),
    header: (name: string) => {
      const v = headers[name.toLowerCase()];
      return Array.isArray(v) ? v.join(', ') : v;
    },
    cookies: () => {
      const v = headers['set-cookie'];
      return v === undefined ? [] : Array.isArray(v) ? v : [v];
    },
  };
}

/** Serves `app` on 127.0.0.1 (a real HTTPServer on an ephemeral port) and talks to it with undici. */
export async function serve(app: Application, opts?: Record<string, unknown>): Promise<TestClient> {
  const server = await app.listen(0, '127.0.0.1', opts as never);
  const port = server.addresses()[0]!.port;
  const base = `http://127.0.0.1:${port}`;
  const http = new Client(base);
  const client: TestClient = {
    async request(method, path, o = {}) {
      // a Client sends the path as given (no URL normalization: traversal tests need that)
      const res = await http.request({
        path,
        method: method as 'GET',
        headers: o.headers,
        body: o.body,
      });
      const body = Buffer.from(await res.body.arrayBuffer());
      return makeResponse(res.statusCode, res.headers as Record<string, string | string[]>, body);
    },
    get: (p, o) => client.request('GET', p, o),
    post: (p, o) => client.request('POST', p, o),
    url: (p) => base + p,
    async close() {
      await http.close();
      await server.stop();
      await (server as unknown as { closeAllConnections?: () => Promise<void> }).closeAllConnections?.();
    },
  };
  return client;
}

/** An in-memory HTTPConnection: records what the application writes. */
export class FakeConnection {
  readonly context = {
    remoteIp: '127.0.0.1',
    protocol: 'http',
    address: null,
    trustedDownstream: new Set<string>(),
  };
  status = 0;
  headers = new HTTPHeaders();
  body = Buffer.alloc(0);
  closeCb: (() => void) | null = null;
  #done: (() => void) | null = null;
  readonly done = new Promise<void>((r) => {
    this.#done = r;
  });
  writeHeaders(
    startLine: ResponseStartLine,
    headers: HTTPHeaders,
    chunk?: string | Uint8Array,
  ): Promise<void> {
    this.status = startLine.code;
    this.headers = headers;
    if (chunk) this.body = Buffer.concat([this.body, Buffer.from(chunk)]);
    return Promise.resolve();
  }
  write(chunk: string | Uint8Array): Promise<void> {
    this.body = Buffer.concat([this.body, Buffer.from(chunk)]);
    return Promise.resolve();
  }
  finish(): void {
    this.#done!();
  }
  setCloseCallback(cb: (() => void) | null): void {
    this.closeCb = cb;
  }
}

/** Runs one request through `app` without sockets (unit tests of the dispatch logic). */
export async function fakeRequest(
  app: Application,
  method: string,
  uri: string,
  opts: RequestOptions = {},
): Promise<TestResponse> {
  const conn = new FakeConnection();
  const d = app.startRequest({}, conn as never);
  const headers = new HTTPHeaders(opts.headers ?? {});
  if (!headers.has('Host')) headers.set('Host', 'localhost');
  await d.headersReceived(new RequestStartLine(method, uri, 'HTTP/1.1'), headers);
  if (opts.body !== undefined) await d.dataReceived(Buffer.from(opts.body));
  d.finish();
  await conn.done;
  const h: Record<string, string | string[]> = {};
  for (const [k, v] of conn.headers) {
    const key = k.toLowerCase();
    const prev = h[key];
    h[key] = prev === undefined ? v : Array.isArray(prev) ? [...prev, v] : [prev, v];
  }
  return makeResponse(conn.status, h, conn.body);
}

/** A client for `app` over a real socket (HTTPServer on 127.0.0.1, undici). */
export function client(app: Application, opts?: Record<string, unknown>): Promise<TestClient> {
  return serve(app, opts);
}
