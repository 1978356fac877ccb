#!/usr/bin/env node
// Micro-benchmark of @tornado-ts/ioloop against the Node primitives it wraps. Runs against the
// built package (dist/): `npm run build -w @tornado-ts/ioloop && node bench/micro/ioloop.mjs`.
// Prints times and ratios; never fails on numbers. N defaults to 1M (`--n 200000` to change).
import { IOLoop } from '@tornado-ts/ioloop';

const argN = process.argv.indexOf('--n');
const N = argN > 0 ? Number(process.argv[argN + 1]) : 1_000_000;
const ROUNDS = 7;
const noop = () => {};

function ms(t0) {
  return Number(process.hrtime.bigint() - t0) / 1e6;
}

/**
 * Best of ROUNDS (after a warm-up) of both bodies, alternating them so that load from other
 * processes hits both alike.
 */
async function bestOfBoth(a, b) {
  await a();
  await b();
  let minA = Number.POSITIVE_INFINITY;
  let minB = Number.POSITIVE_INFINITY;
  for (let i = 0; i < ROUNDS; i++) {
    let t0 = process.hrtime.bigint();
    await a();
    minA = Math.min(minA, ms(t0));
    t0 = process.hrtime.bigint();
    await b();
    minB = Math.min(minB, ms(t0));
  }
  return [minA, minB];
}

const loop = IOLoop.current();

const cases = [
  {
    name: `${N} callLater+removeTimeout pairs (interleaved)`,
    ours: () => {
      for (let i = 0; i < N; i++) loop.removeTimeout(loop.callLater(30, noop));
    },
    node: () => {
      for (let i = 0; i < N; i++) clearTimeout(setTimeout(noop, 30_000));
    },
    nodeName: 'setTimeout+clearTimeout',
  },
  {
    name: `${N} callLater+removeTimeout pairs, with 100k other timeouts pending`,
    setup: () => {
      const ours = [];
      const node = [];
      for (let i = 0; i < 100_000; i++) {
        ours.push(loop.callLater(60 + (i % 997) / 1000, noop));
        node.push(setTimeout(noop, 60_000 + (i % 997)));
      }
      return () => {
        for (const t of ours) loop.removeTimeout(t);
        for (const t of node) clearTimeout(t);
      };
    },
    ours: () => {
      for (let i = 0; i < N; i++) loop.removeTimeout(loop.callLater(30 + (i % 1000) / 1000, noop));
    },
    node: () => {
      for (let i = 0; i < N; i++) clearTimeout(setTimeout(noop, 30_000 + (i % 1000)));
    },
    nodeName: 'setTimeout+clearTimeout',
  },
  {
    name: `${N} callLater, then ${N} removeTimeout (N pending at once)`,
    ours: () => {
      const ts = new Array(N);
      for (let i = 0; i < N; i++) ts[i] = loop.callLater(30 + (i % 1000) / 1000, noop);
      for (let i = 0; i < N; i++) loop.removeTimeout(ts[i]);
    },
    node: () => {
      const ts = new Array(N);
      for (let i = 0; i < N; i++) ts[i] = setTimeout(noop, 30_000 + (i % 1000));
      for (let i = 0; i < N; i++) clearTimeout(ts[i]);
    },
    nodeName: 'setTimeout, then clearTimeout',
  },
  {
    name: `${N} addCallback, until all ran`,
    ours: () =>
      new Promise((resolve) => {
        let left = N;
        const cb = () => {
          if (--left === 0) resolve();
        };
        for (let i = 0; i < N; i++) loop.addCallback(cb);
      }),
    node: () =>
      new Promise((resolve) => {
        let left = N;
        const cb = () => {
          if (--left === 0) resolve();
        };
        for (let i = 0; i < N; i++) setImmediate(cb);
      }),
    nodeName: 'setImmediate',
  },
  {
    name: `${N} addCallback with 2 arguments, until all ran`,
    ours: () =>
      new Promise((resolve) => {
        let left = N;
        let sum = 0;
        const cb = (a, b) => {
          sum += a + b;
          if (--left === 0) resolve(sum);
        };
        for (let i = 0; i < N; i++) loop.addCallback(cb, 1, 2);
      }),
    node: () =>
      new Promise((resolve) => {
        let left = N;
        let sum = 0;
        const cb = (a, b) => {
          sum += a + b;
          if (--left === 0) resolve(sum);
        };
        for (let i = 0; i < N; i++) setImmediate(cb, 1, 2);
      }),
    nodeName: 'setImmediate(cb, 1, 2)',
  },
  {
    name: `${N / 10} timeouts firing (1 ms, one batch)`,
    ours: () =>
      new Promise((resolve) => {
        let left = N / 10;
        const cb = () => {
          if (--left === 0) resolve();
        };
        for (let i = 0; i < N / 10; i++) loop.callLater(0.001, cb);
      }),
    node: () =>
      new Promise((resolve) => {
        let left = N / 10;
        const cb = () => {
          if (--left === 0) resolve();
        };
        for (let i = 0; i < N / 10; i++) setTimeout(cb, 1);
      }),
    nodeName: 'setTimeout(cb, 1)',
  },
];

console.log(
  `@tornado-ts/ioloop micro-benchmark — node ${process.version}, best of ${ROUNDS} after a warm-up`,
);
const rows = [];
for (const c of cases) {
  const teardown = c.setup?.();
  const [ours, node] = await bestOfBoth(c.ours, c.node);
  teardown?.();
  rows.push({
    case: c.name,
    'ioloop ms': ours.toFixed(1),
    'node ms': node.toFixed(1),
    'node primitive': c.nodeName,
    ratio: (ours / node).toFixed(2),
  });
}
console.table(rows);
console.log('ratio = ioloop time / Node primitive time (target: <= 1.5)');
loop.close();
