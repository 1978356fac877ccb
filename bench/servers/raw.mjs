// The ceiling: a net.Server that answers one fixed response per request without parsing HTTP.
// It only counts request ends ("\r\n\r\n") in the bytes it reads, so pipelined requests get one
// response each. Not an HTTP server: it serves the plaintext and idle scenarios only.
import net from 'node:net';
import { args, fail, HELLO, ready } from './common.mjs';

const { port } = args();
const RESPONSE = Buffer.from(
  `HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: ${HELLO.length}\r\n\r\n${HELLO}`,
);
/** @type {Buffer[]} */
const batches = [];
/** @param {number} n */
function responses(n) {
  let b = batches[n];
  if (!b) {
    b = Buffer.concat(Array.from({ length: n }, () => RESPONSE));
    if (n <= 64) batches[n] = b;
  }
  return b;
}

const server = net.createServer((socket) => {
  socket.setNoDelay(true);
  // Matched so far of "\r\n\r\n" (0..3), carried across reads.
  let state = 0;
  socket.on('data', (chunk) => {
    let count = 0;
    for (let i = 0; i < chunk.length; i++) {
      const c = chunk[i];
      if (c === 13) state = state === 2 ? 3 : 1;
      else if (c === 10 && (state === 1 || state === 3)) {
        if (state === 3) {
          count++;
          state = 0;
        } else state = 2;
      } else state = 0;
    }
    if (count > 0) socket.write(responses(count));
  });
  socket.on('error', () => socket.destroy());
});
server.on('error', fail);
server.listen(port, '127.0.0.1', () => ready(port));
