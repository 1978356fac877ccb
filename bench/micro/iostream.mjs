// Micro-benchmark of @tornado-ts/iostream against raw net.Socket, on loopback.
//   node bench/micro/iostream.mjs [--gib 1] [--messages 1000000]
// Runs against the built dist/ (run `npx tsup` in packages/iostream first). Prints ratios; never
// fails on numbers.
import * as net from 'node:net';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';

let IOStream;
try {
  ({ IOStream } = await import('../../packages/iostream/dist/index.js'));
} catch (err) {
  console.error(
    `cannot load packages/iostream/dist (build it first: npx tsup in packages/iostream): ${err.message}`,
  );
  process.exit(1);
}

const { values } = parseArgs({
  options: {
    gib: { type: 'string', default: '1' },
    messages: { type: 'string', default: '1000000' },
    rounds: { type: 'string', default: '3' },
  },
});
const TOTAL = Math.round(Number(values.gib) * 1024 ** 3);
const MESSAGES = Number(values.messages);
const ROUNDS = Number(values.rounds);
const WRITE_SIZE = 1 << 20;
const READ_SIZE = 64 * 1024;

/** Wall and CPU (user + system, both ends and the kernel's loopback work) time of one run. */
function start() {
  return { wall: performance.now(), cpu: process.cpuUsage() };
}
function stop(t0) {
  const cpu = process.cpuUsage(t0.cpu);
  return { wall: performance.now() - t0.wall, cpu: (cpu.user + cpu.system) / 1000 };
}

async function pair() {
  const srv = net.createServer();
  await new Promise((r) => srv.listen(0, '127.0.0.1', r));
  const accepted = new Promise((r) => srv.once('connection', r));
  const client = net.connect(srv.address().port, '127.0.0.1');
  await new Promise((r) => client.once('connect', r));
  const server = await accepted;
  srv.close();
  return { client, server };
}

const payload = Buffer.alloc(WRITE_SIZE, 0x61);

// --- 1: bulk transfer ------------------------------------------------------------------------
async function bulkRaw() {
  const { client, server } = await pair();
  const t0 = start();
  const done = new Promise((resolve) => {
    let got = 0;
    server.on('data', (c) => {
      got += c.length;
      if (got >= TOTAL) resolve();
    });
  });
  let sent = 0;
  while (sent < TOTAL) {
    sent += WRITE_SIZE;
    if (!client.write(payload)) await new Promise((r) => client.once('drain', r));
  }
  await done;
  const ms = stop(t0);
  client.destroy();
  server.destroy();
  return ms;
}

async function bulkIOStream(partial = false) {
  const { client, server } = await pair();
  const w = new IOStream(client);
  const r = new IOStream(server);
  const t0 = start();
  const reader = (async () => {
    let got = 0;
    const opts = { partial };
    while (got < TOTAL) got += (await r.readBytes(Math.min(READ_SIZE, TOTAL - got), opts)).length;
  })();
  // Keep a few writes in flight, as a producer that awaits its writes would.
  const inflight = [];
  for (let sent = 0; sent < TOTAL; sent += WRITE_SIZE) {
    inflight.push(w.write(payload));
    if (inflight.length >= 4) await inflight.shift();
  }
  await Promise.all(inflight);
  await reader;
  const ms = stop(t0);
  w.close();
  r.close();
  return ms;
}

// --- 2: \r\n\r\n-framed messages -------------------------------------------------------------
const MSG = Buffer.from(
  'GET /hello/world HTTP/1.1\r\nHost: 127.0.0.1:8888\r\nUser-Agent: bench\r\nAccept: */*\r\nX-N: 0123456789\r\n\r\n',
);
const BATCH = 256;
const batch = Buffer.concat(Array.from({ length: BATCH }, () => MSG));
const DELIM = Buffer.from('\r\n\r\n');

async function sendMessages(client) {
  for (let n = 0; n < MESSAGES; n += BATCH) {
    if (!client.write(batch)) await new Promise((r) => client.once('drain', r));
  }
}

async function framedRaw() {
  const { client, server } = await pair();
  const total = Math.ceil(MESSAGES / BATCH) * BATCH;
  const t0 = start();
  const done = new Promise((resolve) => {
    let count = 0;
    let pending = null;
    server.on('data', (chunk) => {
      const buf = pending ? Buffer.concat([pending, chunk]) : chunk;
      let start = 0;
      let idx;
      while ((idx = buf.indexOf(DELIM, start)) !== -1) {
        const msg = buf.subarray(start, idx + 4);
        if (msg[0] !== 0x47) throw new Error('bad frame');
        count++;
        start = idx + 4;
      }
      pending = start < buf.length ? buf.subarray(start) : null;
      if (count >= total) resolve();
    });
  });
  await sendMessages(client);
  await done;
  const ms = stop(t0);
  client.destroy();
  server.destroy();
  return ms;
}

async function framedIOStream(useTry) {
  const { client, server } = await pair();
  const total = Math.ceil(MESSAGES / BATCH) * BATCH;
  const r = new IOStream(server);
  const t0 = start();
  const reader = (async () => {
    for (let count = 0; count < total; count++) {
      const msg = useTry ? (r.tryReadUntil(DELIM) ?? (await r.readUntil(DELIM))) : await r.readUntil(DELIM);
      if (msg[0] !== 0x47) throw new Error('bad frame');
    }
  })();
  await sendMessages(client);
  await reader;
  const ms = stop(t0);
  client.destroy();
  r.close();
  return ms;
}

/** Runs the variants interleaved, round after round (fairer on a shared machine); best of each. */
async function bestOf(fns) {
  const best = fns.map(() => ({ wall: Number.POSITIVE_INFINITY, cpu: Number.POSITIVE_INFINITY }));
  for (let i = 0; i < ROUNDS; i++) {
    for (let k = 0; k < fns.length; k++) {
      const r = await fns[k]();
      best[k].wall = Math.min(best[k].wall, r.wall);
      best[k].cpu = Math.min(best[k].cpu, r.cpu);
    }
  }
  return best;
}

const pad = (s, n) => String(s).padEnd(n);
function row(name, t, rate, unit) {
  console.log(
    `  ${pad(name, 28)} ${pad(`${rate(t.wall).toFixed(0)} ${unit}`, 18)} cpu ${t.cpu.toFixed(0)} ms`,
  );
}
function ratio(name, base, t) {
  console.log(
    `  ${pad(name, 28)} ${pad(`wall ${(base.wall / t.wall).toFixed(2)}`, 18)} cpu ${(base.cpu / t.cpu).toFixed(2)}`,
  );
}

console.log(
  'Ratios > 1 mean faster than the raw baseline; "cpu" compares CPU time (steadier on a busy machine).',
);
const gib = TOTAL / 1024 ** 3;
const mibps = (ms) => TOTAL / 1024 ** 2 / (ms / 1000);
const [rawBulk, ioBulk, ioPartial] = await bestOf([
  bulkRaw,
  () => bulkIOStream(false),
  () => bulkIOStream(true),
]);
console.log(`bulk ${gib} GiB over loopback (best of ${ROUNDS})`);
row('raw net.Socket', rawBulk, mibps, 'MiB/s');
row('IOStream readBytes/write', ioBulk, mibps, 'MiB/s');
row('IOStream partial reads', ioPartial, mibps, 'MiB/s');
ratio('ratio readBytes/raw', rawBulk, ioBulk);
ratio('ratio partial/raw', rawBulk, ioPartial);
console.log('  (readBytes: exact 64 KiB reads copy where chunks do not align; partial: zero-copy views)');

const total = Math.ceil(MESSAGES / BATCH) * BATCH;
const msgps = (ms) => (total / ms) * 1000;
const [rawFr, ioFr, ioTry] = await bestOf([
  framedRaw,
  () => framedIOStream(false),
  () => framedIOStream(true),
]);
console.log(`\\r\\n\\r\\n-framed messages: ${total} x ${MSG.length} B (best of ${ROUNDS})`);
row('raw net.Socket + indexOf', rawFr, msgps, 'msg/s');
row('IOStream readUntil', ioFr, msgps, 'msg/s');
row('IOStream tryReadUntil', ioTry, msgps, 'msg/s');
ratio('ratio readUntil/raw', rawFr, ioFr);
ratio('ratio tryReadUntil/raw', rawFr, ioTry);
