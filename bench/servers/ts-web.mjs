// tornado-ts at the web layer: an Application with one RequestHandler per route,
// StaticFileHandler for files and a streamRequestBody handler for uploads.
import { args, fail, HELLO, JSON_BODY, ready } from './common.mjs';

const { port, dataDir } = args();
try {
  const ioloop = await import('@tornado-ts/ioloop');
  ioloop.configureLogging?.({ level: 'warn' });
  const { Application, RequestHandler, StaticFileHandler, streamRequestBody } = await import(
    '@tornado-ts/web'
  );

  class Plaintext extends RequestHandler {
    get() {
      this.setHeader('Content-Type', 'text/plain');
      this.write(HELLO);
    }
  }
  class Json extends RequestHandler {
    get() {
      this.write(JSON_BODY);
    }
  }
  class Echo extends RequestHandler {
    post() {
      this.setHeader('Content-Type', 'application/octet-stream');
      this.write(this.request.body);
    }
  }
  class Upload extends RequestHandler {
    received = 0;
    prepare() {
      this.request.connection.setMaxBodySize?.(2 ** 40);
    }
    /** @param {Buffer} chunk */
    dataReceived(chunk) {
      this.received += chunk.length;
    }
    post() {
      this.setHeader('Content-Type', 'text/plain');
      this.write(String(this.received));
    }
  }
  // streamRequestBody marks the class (and may return it, or a subclass, as a decorator would).
  const StreamedUpload = streamRequestBody(Upload) ?? Upload;

  const app = new Application([
    ['/plaintext', Plaintext],
    ['/json', Json],
    ['/echo', Echo],
    ['/upload', StreamedUpload],
    ['/static/(.*)', StaticFileHandler, { path: dataDir }],
  ]);
  // idleConnectionTimeout: 120 s, as node:http and Fastify get here (see ts-http.mjs).
  await app.listen(port, '127.0.0.1', { maxBodySize: 2 ** 40, idleConnectionTimeout: 120 });
  ready(port);
} catch (err) {
  fail(err);
}
