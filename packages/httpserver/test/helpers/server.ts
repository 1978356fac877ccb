import { connect, type Socket } from 'node:net';
import type { IOStream } from '@tornado-ts/iostream';
import {
  type HTTP1Connection,
  type HTTPConnection,
  HTTPHeaders,
  type HTTPMessageDelegate,
  HTTPServer,
  type HTTPServerOptions,
  type HTTPServerRequest,
  type RequestCallback,
  ResponseStartLine,
} from '../../src/index';

/** Answers with `METHOD uri body-length body` in a Content-Length response. */
export const echo: RequestCallback = (req: HTTPServerRequest) => {
  const body = Buffer.concat([Buffer.from(`${req.method} ${req.uri} ${req.body.length}\n`), req.body]);
  const conn = req.connection!;
  void conn.writeHeaders(
    new ResponseStartLine('HTTP/1.1', 200, 'OK'),
    new HTTPHeaders({ 'Content-Length': String(body.length), 'Content-Type': 'text/plain' }),
    req.method === 'HEAD' ? undefined : body,
  );
  conn.finish();
};

/**
 * A server delegate that answers every request with `101 Switching Protocols`, detaches the
 * stream and speaks a one-line echo protocol on it (`echo:<line>`); `onDetach` gets the stream.
 */
export function upgradeToEcho(onDetach: (stream: IOStream) => void) {
  return {
    startRequest: (_sc: unknown, rc: HTTPConnection): HTTPMessageDelegate => ({
      headersReceived: () => {},
      dataReceived: () => {},
      finish: () => {
        void rc.writeHeaders(
          new ResponseStartLine('HTTP/1.1', 101, 'Switching Protocols'),
          new HTTPHeaders({ Upgrade: 'echo', Connection: 'Upgrade' }),
        );
        rc.finish();
        const d = (rc as HTTP1Connection).detach();
        onDetach(d);
        void d.readUntil('\n').then((line) => d.write(`echo:${line}`));
      },
      onConnectionClose: () => {},
    }),
    onClose: () => {},
  };
}

export interface Running {
  server: HTTPServer;
  port: number;
  close(): Promise<void>;
}

export async function startServer(
  handler: RequestCallback | ConstructorParameters<typeof HTTPServer>[0] = echo,
  opts: HTTPServerOptions = {},
): Promise<Running> {
  const server = new HTTPServer(handler, opts);
  await server.listen(0, '127.0.0.1');
  const port = server.addresses()[0]!.port;
  return {
    server,
    port,
    async close() {
      await server.stop().catch(() => {});
      await server.closeAllConnections();
    },
  };
}

export interface RawResult {
  /** Everything the server sent. */
  data: string;
  /** Whether the server closed the connection within the window. */
  closed: boolean;
}

/**
 * Sends raw bytes and collects the answer until the server closes or `windowMs` passes
 * (or `until(data)` is true).
 */
export function raw(
  port: number,
  bytes: string | Buffer | Array<string | Buffer>,
  opts: { windowMs?: number; until?: (data: string) => boolean; end?: boolean } = {},
): Promise<RawResult> {
  const windowMs = opts.windowMs ?? 2000;
  return new Promise((resolve, reject) => {
    const sock: Socket = connect(port, '127.0.0.1');
    let data = '';
    let done = false;
    const finish = (closed: boolean) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      sock.destroy();
      resolve({ data, closed });
    };
    const timer = setTimeout(() => finish(false), windowMs);
    sock.on('connect', () => {
      const parts = Array.isArray(bytes) ? bytes : [bytes];
      for (const p of parts) sock.write(typeof p === 'string' ? Buffer.from(p, 'latin1') : p);
      if (opts.end) sock.end();
    });
    sock.on('data', (d) => {
      data += d.toString('latin1');
      if (opts.until?.(data)) finish(false);
    });
    sock.on('close', () => finish(true));
    sock.on('error', (e) => {
      if ((e as NodeJS.ErrnoException).code === 'ECONNRESET') finish(true);
      else if (!done) {
        done = true;
        clearTimeout(timer);
        reject(e);
      }
    });
  });
}

/** Status codes of every response in `data`, in order. */
export function statuses(data: string): number[] {
  return [...data.matchAll(/HTTP\/1\.[01] (\d{3})/g)].map((m) => Number(m[1]));
}
