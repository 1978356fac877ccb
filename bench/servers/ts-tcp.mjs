// tornado-ts at the TCP layer: a TCPServer whose handleStream answers each request head it reads
// through IOStream.readUntil with one fixed response (no HTTP parsing, like raw.mjs).
import { args, fail, HELLO, ready } from './common.mjs';

const { port } = args();
try {
  const ioloop = await import('@tornado-ts/ioloop');
  ioloop.configureLogging?.({ level: 'warn' });
  const { TCPServer } = await import('@tornado-ts/tcpserver');
  const RESPONSE = Buffer.from(
    `HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: ${HELLO.length}\r\n\r\n${HELLO}`,
  );
  const ignore = () => {};

  class Responder extends TCPServer {
    /** @param {any} stream */
    async handleStream(stream) {
      stream.setNodelay(true);
      try {
        for (;;) {
          await stream.readUntil('\r\n\r\n');
          // Not awaited: IOStream queues writes, so pipelined requests are answered back to back.
          stream.write(RESPONSE).catch(ignore);
        }
      } catch {
        // StreamClosedError when the client goes away.
      }
    }
  }
  const server = new Responder();
  await server.listen(port, '127.0.0.1');
  ready(port);
} catch (err) {
  fail(err);
}
