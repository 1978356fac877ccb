// Micro-benchmark of @tornado-ts/tcpserver's accept path against a plain net.Server, on loopback,
// with connection churn: clients (a separate process, so the server's event loop is measured
// alone) open a connection, wait for one byte, close, and start over.
//   node bench/micro/tcpserver.mjs [--seconds 1] [--concurrency 64] [--rounds 7]
// Runs against the built dist/ (run `npx tsup` in packages/ioloop, packages/iostream and
// packages/tcpserver first). Prints connections/s and ratios; never fails on numbers.
import { spawn } from 'node:child_process';
import * as net from 'node:net';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const { values } = parseArgs({
  options: {
    seconds: { type: 'string', default: '1' },
    concurrency: { type: 'string', default: '64' },
    rounds: { type: 'string', default: '7' },
    client: { type: 'string' },
  },
});
const SECONDS = Number(values.seconds);
const CONCURRENCY = Number(values.concurrency);
const ROUNDS = Number(values.rounds);

// ------------------------------------------------------------------------------------------------
// Client process: churn connections for SECONDS, print how many completed.

if (values.client !== undefined) {
  const port = Number(values.client);
  const deadline = performance.now() + SECONDS * 1000;
  let done = 0;
  let errors = 0;
  const one = () =>
    new Promise((resolve) => {
      const sock = net.connect({ port, host: '127.0.0.1' });
      sock.once('data', () => {
        done++;
        sock.destroy();
        resolve();
      });
      sock.once('error', () => {
        errors++;
        sock.destroy();
        resolve();
      });
    });
  const loop = async () => {
    while (performance.now() < deadline) await one();
  };
  await Promise.all(Array.from({ length: CONCURRENCY }, loop));
  process.stdout.write(JSON.stringify({ done, errors }));
  process.exit(0);
}

// ------------------------------------------------------------------------------------------------
// Server side

let lib;
try {
  lib = await import('../../packages/tcpserver/dist/index.js');
} catch (err) {
  console.error(
    `cannot load packages/tcpserver/dist (build ioloop, iostream and tcpserver first: npx tsup in each): ${err.message}`,
  );
  process.exit(1);
}
const { TCPServer, addAcceptHandler, bindSockets } = lib;
const RESPONSE = Buffer.from('x');

function runClient(port) {
  return new Promise((resolve, reject) => {
    const child = spawn(
      process.execPath,
      [
        fileURLToPath(import.meta.url),
        '--client',
        String(port),
        '--seconds',
        String(SECONDS),
        '--concurrency',
        String(CONCURRENCY),
      ],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    );
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.once('error', reject);
    child.once('exit', () => {
      try {
        resolve(JSON.parse(out));
      } catch {
        reject(new Error(`client printed no result: ${out}`));
      }
    });
  });
}

/** Each subject starts a server on a fresh port and returns { port, close }. */
const subjects = {
  'net.Server (plain)': async () => {
    const server = net.createServer((sock) => {
      sock.on('error', () => {});
      sock.end(RESPONSE);
    });
    await new Promise((r) => server.listen(0, '127.0.0.1', 511, r));
    return { port: server.address().port, close: () => server.close() };
  },
  'bindSockets + addAcceptHandler': async () => {
    const [server] = await bindSockets(0, '127.0.0.1', { backlog: 511 });
    addAcceptHandler(server, (sock) => {
      sock.on('error', () => {});
      sock.end(RESPONSE);
    });
    return { port: server.address().port, close: () => server.close() };
  },
  'TCPServer + IOStream': async () => {
    class OneByte extends TCPServer {
      handleStream(stream) {
        stream.write(RESPONSE).then(
          () => stream.close(),
          () => {},
        );
      }
    }
    const server = new OneByte();
    await server.listen(0, '127.0.0.1', { backlog: 511 });
    return { port: server.addresses()[0].port, close: () => server.stop() };
  },
};

console.log(
  `accept churn: ${CONCURRENCY} concurrent clients in another process, ${SECONDS}s per run, median of ${ROUNDS} rounds`,
);
const runs = Object.fromEntries(Object.keys(subjects).map((k) => [k, []]));
const order = Object.entries(subjects);
for (let round = 0; round < ROUNDS; round++) {
  // Rotate the order every round: a busy neighbour should not always hit the same subject.
  for (let k = 0; k < order.length; k++) {
    const [name, start] = order[(round + k) % order.length];
    const { port, close } = await start();
    const t0 = process.cpuUsage();
    const { done, errors } = await runClient(port);
    const cpu = process.cpuUsage(t0);
    await close();
    const rate = done / SECONDS;
    const cpuPerConn = (cpu.user + cpu.system) / Math.max(1, done); // µs of server CPU per connection
    runs[name].push({ rate, errors, cpuPerConn });
  }
}
const median = (xs) => {
  const v = [...xs].sort((a, b) => a - b);
  return v.length % 2 ? v[(v.length - 1) / 2] : (v[v.length / 2 - 1] + v[v.length / 2]) / 2;
};
const best = {};
for (const [name, list] of Object.entries(runs)) {
  best[name] = {
    rate: median(list.map((r) => r.rate)),
    cpuPerConn: median(list.map((r) => r.cpuPerConn)),
    errors: list.reduce((n, r) => n + r.errors, 0),
  };
}
const base = best['net.Server (plain)'];
console.log('');
console.log(
  `${'subject'.padEnd(34)} ${'conn/s'.padStart(9)} ${'ratio'.padStart(7)} ${'server µs CPU/conn'.padStart(19)} errors`,
);
for (const [name, r] of Object.entries(best)) {
  console.log(
    `${name.padEnd(34)} ${r.rate.toFixed(0).padStart(9)} ${(r.rate / base.rate).toFixed(3).padStart(7)} ${r.cpuPerConn
      .toFixed(1)
      .padStart(19)} ${r.errors}`,
  );
}
const ours = best['TCPServer + IOStream'];
console.log('');
console.log(
  `TCPServer accept path: ${((ours.rate / base.rate) * 100).toFixed(1)} % of a plain net.Server's connections/s, ` +
    `${((base.cpuPerConn / ours.cpuPerConn) * 100).toFixed(1)} % by server CPU per connection (target >= 90 %)`,
);
