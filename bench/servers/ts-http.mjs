// tornado-ts at the HTTP layer: an HTTPServer with a request callback that writes through
// request.connection (writeHeaders / write / finish), as Tornado's HTTPServer callbacks do.
// The callback receives whole requests, so this contender has no streamed-upload route.
// TORNADO_TS_BENCH_NET=1 (ts-http-net.mjs) runs it on net.Socket instead of native sockets.
import fs from 'node:fs';
import path from 'node:path';
import { args, fail, HELLO, JSON_BODY, ready } from './common.mjs';

const { port, dataDir } = args();
try {
  const ioloop = await import('@tornado-ts/ioloop');
  ioloop.configureLogging?.({ level: 'warn' });
  const { HTTPServer, HTTPHeaders, ResponseStartLine } = await import('@tornado-ts/httpserver');

  const OK = new ResponseStartLine('HTTP/1.1', 200, 'OK');
  const NOT_FOUND = new ResponseStartLine('HTTP/1.1', 404, 'Not Found');
  const HELLO_BUF = Buffer.from(HELLO);

  /**
   * @param {any} req
   * @param {any} start
   * @param {string} type
   * @param {Buffer} body
   */
  function respond(req, start, type, body) {
    const headers = new HTTPHeaders({ 'Content-Type': type, 'Content-Length': String(body.length) });
    req.connection.writeHeaders(start, headers, body);
    req.connection.finish();
  }

  /** @param {any} req */
  async function sendFile(req) {
    const file = path.join(dataDir, path.basename(req.path.slice('/static/'.length)));
    let size;
    try {
      size = (await fs.promises.stat(file)).size;
    } catch {
      respond(req, NOT_FOUND, 'text/plain', Buffer.alloc(0));
      return;
    }
    const headers = new HTTPHeaders({
      'Content-Type': 'application/octet-stream',
      'Content-Length': String(size),
    });
    await req.connection.writeHeaders(OK, headers);
    for await (const chunk of fs.createReadStream(file)) await req.connection.write(chunk);
    req.connection.finish();
  }

  const server = new HTTPServer(
    /** @param {any} req */ (req) => {
      if (req.method === 'GET' && req.path === '/plaintext') {
        respond(req, OK, 'text/plain', HELLO_BUF);
      } else if (req.method === 'GET' && req.path === '/json') {
        respond(req, OK, 'application/json', Buffer.from(JSON.stringify(JSON_BODY)));
      } else if (req.method === 'POST' && req.path === '/echo') {
        respond(req, OK, 'application/octet-stream', req.body);
      } else if (req.method === 'GET' && req.path.startsWith('/static/')) {
        return sendFile(req);
      } else {
        respond(req, NOT_FOUND, 'text/plain', Buffer.alloc(0));
      }
    },
    // 120 s between requests, as node:http and Fastify get here: the idle scenario holds
    // connections for up to ~95 s while it waits for the steady reading (the default is 65 s).
    { nativeSockets: process.env.TORNADO_TS_BENCH_NET !== '1', idleConnectionTimeout: 120 },
  );
  await server.listen(port, '127.0.0.1');
  ready(port);
} catch (err) {
  fail(err);
}
