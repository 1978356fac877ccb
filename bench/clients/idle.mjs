// Opens N keep-alive connections to a server, sends one GET /plaintext on each, waits for every
// response, then holds the sockets idle. Protocol with the runner (stdout JSON lines, stdin commands):
//   -> {"connected": n, "failed": m, "ms": t}   every connection answered (or failed)
//   <- "check"                                 -> {"open": k}  sockets still open now
//   <- "exit" (or stdin closes)                destroys every socket and exits
//
// argv: <port> <count> [concurrency]
import net from 'node:net';
import readline from 'node:readline';

const port = Number(process.argv[2]);
const count = Number(process.argv[3]);
const concurrency = Number(process.argv[4] ?? 200);
const REQUEST = Buffer.from('GET /plaintext HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n');
const HELLO = 'Hello, World!';

/** @type {Set<net.Socket>} */
const open = new Set();
let failed = 0;
/** @type {string | undefined} */
let firstError;

/** @returns {Promise<void>} */
function one() {
  return new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1');
    let received = '';
    let done = false;
    /** @param {string | undefined} error */
    const finish = (error) => {
      if (done) return;
      done = true;
      if (error) {
        failed++;
        firstError ??= error;
        socket.destroy();
      }
      resolve();
    };
    socket.on('connect', () => socket.write(REQUEST));
    socket.on('data', (chunk) => {
      received += chunk.toString('latin1');
      if (received.endsWith(HELLO)) {
        if (!/^HTTP\/1\.1 200 /.test(received)) finish(`unexpected response: ${received.slice(0, 80)}`);
        else {
          open.add(socket);
          finish(undefined);
        }
      }
    });
    socket.on('error', (err) => finish(err.message));
    socket.on('close', () => {
      open.delete(socket);
      finish('closed before the response');
    });
  });
}

const started = Date.now();
let next = 0;
async function worker() {
  while (next < count) {
    next++;
    await one();
  }
}
await Promise.all(Array.from({ length: Math.min(concurrency, count) }, worker));
process.stdout.write(
  `${JSON.stringify({ connected: open.size, failed, error: firstError ?? null, ms: Date.now() - started })}\n`,
);

const rl = readline.createInterface({ input: process.stdin });
const quit = () => {
  for (const s of open) s.destroy();
  process.exit(0);
};
rl.on('line', (line) => {
  if (line.trim() === 'check') process.stdout.write(`${JSON.stringify({ open: open.size })}\n`);
  else if (line.trim() === 'exit') quit();
});
rl.on('close', quit);
