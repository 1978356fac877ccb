import { execFileSync } from 'node:child_process';
import { closeSync, constants, mkdtempSync, openSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import { afterEach, describe, expect, it } from 'vitest';
import { fdPipe, fdRead, fdSupport, fdWrite, IOLoop, setNonBlocking } from '../src/index';
import { addon } from '../src/native';
import { freshLoopPerTest } from './helpers';

const support = fdSupport();
const { READ, WRITE, ERROR } = IOLoop;

let loop: IOLoop;
const cleanups: (() => void)[] = [];

// Registered before the loop's own hooks, so it runs after them (afterEach hooks run in reverse):
// the loop removes its handlers before the fds are closed.
afterEach(() => {
  for (const c of cleanups.splice(0).reverse()) {
    try {
      c();
    } catch {
      // already closed
    }
  }
});
freshLoopPerTest((l) => {
  loop = l;
});

function pipe(): [number, number] {
  const [r, w] = fdPipe();
  cleanups.push(
    () => closeSync(r),
    () => closeSync(w),
  );
  return [r, w];
}

/** Resolves with the first event mask for which `pred` holds. */
function nextEvent(fd: number, events: number, pred: (ev: number) => boolean = () => true): Promise<number> {
  return new Promise((resolve) => {
    const handler = (_fd: number, ev: number) => {
      if (!pred(ev)) return;
      loop.removeHandler(fd);
      resolve(ev);
    };
    if (loop.hasHandler(fd)) loop.removeHandler(fd);
    loop.addHandler(fd, handler, events);
  });
}

// Without the addon the handler tests cannot run; but unless the build was skipped on purpose,
// a missing addon is a failure (npm install should have compiled it).
const skippedOnPurpose = Boolean(process.env.TORNADO_TS_SKIP_ADDON || process.env.TORNADO_TS_IOLOOP_NO_ADDON);

it.skipIf(skippedOnPurpose)('the native addon was built by npm install', () => {
  expect(support).toEqual({ available: true });
});

describe.skipIf(!support.available)('fd handlers on a pipe', () => {
  it('reports read readiness; fdRead reads, then says it would block', async () => {
    const [r, w] = pipe();
    const buf = new Uint8Array(16);
    expect(fdRead(r, buf)).toBe(-1);
    const got = nextEvent(r, READ);
    expect(fdWrite(w, new TextEncoder().encode('hello'))).toBe(5);
    expect((await got) & READ).toBe(READ);
    expect(fdRead(r, buf, 2, 3)).toBe(3);
    expect(new TextDecoder().decode(buf.subarray(2, 5))).toBe('hel');
    expect(fdRead(r, buf)).toBe(2);
    expect(fdRead(r, buf)).toBe(-1);
  });

  it('reports write readiness once a full pipe drains', async () => {
    const [r, w] = pipe();
    const chunk = new Uint8Array(65536);
    let total = 0;
    for (;;) {
      const n = fdWrite(w, chunk);
      if (n === -1) break;
      total += n;
    }
    expect(total).toBeGreaterThan(0);
    const writable = nextEvent(w, WRITE);
    const sink = new Uint8Array(65536);
    let drained = 0;
    while (drained < total) {
      const n = fdRead(r, sink);
      if (n <= 0) break;
      drained += n;
    }
    expect(drained).toBe(total);
    expect((await writable) & WRITE).toBe(WRITE);
    expect(fdWrite(w, chunk, 0, 10)).toBe(10);
  });

  it('hang-up: closing the writer gives the reader READ|ERROR and then EOF', async () => {
    const [r, w] = fdPipe();
    cleanups.push(() => closeSync(r));
    const ev = nextEvent(r, READ);
    closeSync(w);
    const got = await ev;
    expect(got & ERROR).toBe(ERROR);
    expect(fdRead(r, new Uint8Array(8))).toBe(0);
  });

  it('hang-up: closing the reader gives a writer ERROR and fdWrite throws EPIPE', async () => {
    const [r, w] = fdPipe();
    cleanups.push(() => closeSync(w));
    const chunk = new Uint8Array(65536);
    while (fdWrite(w, chunk) !== -1) {
      // fill the pipe so WRITE is not ready and only the hang-up can wake us
    }
    const ev = nextEvent(w, WRITE);
    closeSync(r);
    expect((await ev) & ERROR).toBe(ERROR);
    let err: NodeJS.ErrnoException | null = null;
    try {
      fdWrite(w, chunk, 0, 1);
    } catch (e) {
      err = e as NodeJS.ErrnoException;
    }
    expect(err?.code).toBe('EPIPE');
    expect(err?.syscall).toBe('write');
  });

  it('ERROR alone still reports a hang-up (nothing else)', async () => {
    const [r, w] = fdPipe();
    cleanups.push(() => closeSync(r));
    const seen: number[] = [];
    const ev = new Promise<number>((resolve) => {
      loop.addHandler(
        r,
        (_fd, e) => {
          seen.push(e);
          loop.removeHandler(r);
          resolve(e);
        },
        ERROR,
      );
    });
    fdWrite(w, new Uint8Array([1])); // readable, but nobody asked for READ
    const readable = nextEvent(w, WRITE); // an event of another fd proves the loop went round
    await readable;
    await new Promise((r) => setImmediate(r)); // every poll callback of that iteration has run
    expect(seen).toEqual([]);
    closeSync(w);
    expect(await ev).toBe(ERROR);
  });

  it('updateHandler switches the events; NONE pauses', async () => {
    const [r, w] = pipe();
    const seen: number[] = [];
    let wake: (() => void) | null = null;
    loop.addHandler(
      w,
      (_fd, ev) => {
        seen.push(ev);
        loop.updateHandler(w, IOLoop.NONE);
        wake?.();
      },
      WRITE,
    );
    await new Promise<void>((resolve) => {
      wake = resolve;
    });
    expect(seen).toEqual([WRITE]);
    // Paused: prove it by having the *reader* fire first after a write, then resume the writer.
    const readable = nextEvent(r, READ);
    fdWrite(w, new Uint8Array([1]));
    await readable;
    expect(seen).toEqual([WRITE]);
    const resumed = new Promise<void>((resolve) => {
      wake = resolve;
    });
    loop.updateHandler(w, WRITE);
    await resumed;
    expect(seen).toEqual([WRITE, WRITE]);
    loop.removeHandler(w);
  });

  it('a handler may remove another fd handler that is ready in the same iteration', async () => {
    const [r1, w1] = pipe();
    const [r2, w2] = pipe();
    fdWrite(w1, new Uint8Array([1]));
    fdWrite(w2, new Uint8Array([2]));
    const calls: number[] = [];
    await new Promise<void>((resolve) => {
      const handler = (fd: number) => {
        calls.push(fd);
        loop.removeHandler(r1);
        loop.removeHandler(r2);
        setImmediate(resolve);
      };
      loop.addHandler(r1, handler, READ);
      loop.addHandler(r2, handler, READ);
    });
    expect(calls).toHaveLength(1);
  });

  it('descriptors ready in one poll phase are handled in one batch, microtasks after it', async () => {
    const pipes = [pipe(), pipe(), pipe(), pipe()];
    for (const [, w] of pipes) fdWrite(w, new Uint8Array([1]));
    const order: string[] = [];
    await new Promise<void>((resolve) => {
      for (const [r] of pipes) {
        loop.addHandler(
          r,
          () => {
            loop.removeHandler(r);
            order.push(`h${r}`);
            queueMicrotask(() => order.push(`m${r}`));
            if (order.length === 1) setImmediate(resolve);
          },
          READ,
        );
      }
    });
    const handled = order.filter((o) => o.startsWith('h'));
    expect(handled).toHaveLength(4);
    // One call into JavaScript for the four: every handler ran before any microtask.
    expect(order.slice(0, 4)).toEqual(handled);
  });

  it('batched delivery in the addon: a full buffer is flushed early, nothing is lost; bad calls throw', async () => {
    const addonPath = createRequire(import.meta.url).resolve('../build/Release/tornado_ioloop.node');
    // In a worker: its own addon instance, so this thread's IOLoop batching is left alone.
    const code = `
      const a = require(${JSON.stringify(addonPath)});
      const { parentPort } = require('node:worker_threads');
      const errs = [];
      const t = (fn) => { try { fn(); errs.push('none'); } catch (e) { errs.push(e.code); } };
      const [r0] = a.pipe();
      t(() => a.pollStartBatched(r0, 1, 1));            // before batchInit
      t(() => a.batchInit(() => {}, new Uint8Array(4)));  // not an Int32Array
      t(() => a.batchInit('x', new Int32Array(4)));
      t(() => a.pollStartBatched(r0, 1));
      const buf = new Int32Array(4);                     // room for two events
      const calls = [];
      const seen = new Map();
      const handles = [];
      a.batchInit((n) => {
        calls.push(n);
        for (let i = 0; i < n; i++) seen.set(buf[2 * i], buf[2 * i + 1]);
        if (seen.size === 5) {
          for (const h of handles) a.pollClose(h);
          parentPort.postMessage({ errs, calls, seen: [...seen].sort((x, y) => x[0] - y[0]) });
        }
      }, buf);
      for (let id = 1; id <= 5; id++) {
        const [r, w] = a.pipe();
        a.write(w, Buffer.from('x'), 0, 1);
        handles.push(a.pollStartBatched(r, 1, id * 10, 1));
      }
    `;
    const worker = new Worker(code, { eval: true });
    const result = await new Promise<{ errs: string[]; calls: number[]; seen: [number, number][] }>(
      (resolve, reject) => {
        worker.once('message', resolve);
        worker.once('error', reject);
      },
    );
    await worker.terminate();
    expect(result.errs).toEqual([
      'ERR_IOLOOP_NO_BATCH',
      'ERR_INVALID_ARG_TYPE',
      'ERR_INVALID_ARG_TYPE',
      'ERR_MISSING_ARGS',
    ]);
    expect(result.seen).toEqual([10, 20, 30, 40, 50].map((id) => [id, READ]));
    // Five events through a two-event buffer: flushed when full, the rest in the check phase.
    expect(result.calls.every((n) => n >= 1 && n <= 2)).toBe(true);
    expect(result.calls.reduce((x, y) => x + y, 0)).toBe(5);
  });

  it('promise continuations inside a handler run right away (microtasks are drained)', async () => {
    const [r, w] = pipe();
    const order: string[] = [];
    await new Promise<void>((resolve) => {
      loop.addHandler(
        r,
        async () => {
          loop.removeHandler(r);
          order.push('handler');
          await null;
          order.push('continuation');
          setImmediate(resolve);
        },
        READ,
      );
      fdWrite(w, new Uint8Array([1]));
    });
    expect(order).toEqual(['handler', 'continuation']);
  });

  it('works on a named pipe (FIFO) opened with fs', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ioloop-fifo-'));
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    const path = join(dir, 'fifo');
    execFileSync('mkfifo', [path]);
    const r = openSync(path, constants.O_RDONLY | constants.O_NONBLOCK);
    const w = openSync(path, constants.O_WRONLY | constants.O_NONBLOCK);
    cleanups.push(
      () => closeSync(r),
      () => closeSync(w),
    );
    const ev = nextEvent(r, READ);
    fdWrite(w, new TextEncoder().encode('fifo'));
    expect((await ev) & READ).toBe(READ);
    const buf = new Uint8Array(8);
    expect(fdRead(r, buf)).toBe(4);
  });

  it('refuses a regular file, a closed fd and a double add', () => {
    const dir = mkdtempSync(join(tmpdir(), 'ioloop-file-'));
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    const file = join(dir, 'f');
    writeFileSync(file, 'x');
    const fd = openSync(file, 'r');
    cleanups.push(() => closeSync(fd));
    expect(() => loop.addHandler(fd, () => {}, READ)).toThrow(expect.objectContaining({ code: 'EPERM' }));
    expect(loop.hasHandler(fd)).toBe(false);
    const [r, w] = fdPipe();
    closeSync(r);
    closeSync(w);
    expect(() => loop.addHandler(r, () => {}, READ)).toThrow(expect.objectContaining({ code: 'EBADF' }));
    const [r2] = pipe();
    loop.addHandler(r2, () => {}, READ);
    expect(() => loop.addHandler(r2, () => {}, READ)).toThrow(/already has a handler/);
    loop.removeHandler(r2);
    expect(() => fdRead(1_000_000, new Uint8Array(1))).toThrow(expect.objectContaining({ code: 'EBADF' }));
  });

  it('the addon itself checks its arguments (a bad call throws, never crashes)', () => {
    const a = addon();
    const [r, w] = pipe();
    const call = (fn: () => unknown) => {
      try {
        fn();
      } catch (e) {
        return (e as { code?: string }).code;
      }
      return 'no error';
    };
    const raw = a as unknown as Record<string, (...args: unknown[]) => unknown>;
    expect(call(() => raw.pollStart!(r, READ))).toBe('ERR_MISSING_ARGS');
    expect(call(() => raw.pollStart!('x', READ, () => {}))).toBe('ERR_INVALID_ARG_TYPE');
    expect(call(() => raw.pollStart!(r, READ, 'not a function'))).toBe('ERR_INVALID_ARG_TYPE');
    expect(call(() => raw.pollUpdate!({}, READ))).toBe('ERR_INVALID_ARG_TYPE');
    expect(call(() => raw.pollClose!())).toBe('ERR_MISSING_ARGS');
    expect(call(() => raw.read!(r, new Uint8Array(4), 0))).toBe('ERR_MISSING_ARGS');
    expect(call(() => raw.read!(r, [1, 2], 0, 1))).toBe('ERR_INVALID_ARG_TYPE');
    expect(call(() => raw.write!(w, new Uint16Array(2), 0, 1))).toBe('ERR_INVALID_ARG_TYPE');
    expect(call(() => raw.write!(w, new Uint8Array(2), '0', 1))).toBe('ERR_INVALID_ARG_TYPE');
    expect(call(() => raw.write!(w, new Uint8Array(2), 1, 2))).toBe('ERR_OUT_OF_RANGE');
    expect(call(() => raw.read!(r, new Uint8Array(2), -1, 1))).toBe('ERR_OUT_OF_RANGE');
    expect(call(() => raw.setNonBlocking!(r))).toBe('ERR_MISSING_ARGS');
    // A closed handle can no longer be updated; closing it again is a no-op.
    const h = a.pollStart(r, READ, () => {});
    a.pollClose(h);
    a.pollClose(h);
    expect(call(() => a.pollUpdate(h, READ))).toBe('ERR_IOLOOP_HANDLE_CLOSED');
    // Through the helpers, the byte range still works after all that.
    expect(a.write(w, Buffer.from('abc'), 1, 2)).toBe(2);
    const buf = new Uint8Array(4);
    expect(a.read(r, buf, 1, 3)).toBe(2);
    expect(Buffer.from(buf).toString('latin1', 1, 3)).toBe('bc');
  });

  it('close(true) removes the handlers and closes their fds', async () => {
    const [r, w] = fdPipe();
    cleanups.push(() => closeSync(w));
    loop.addHandler(r, () => {}, READ);
    loop.close(true);
    expect(loop.hasHandler(r)).toBe(false);
    expect(() => fdRead(r, new Uint8Array(1))).toThrow(expect.objectContaining({ code: 'EBADF' }));
  });

  it('setNonBlocking toggles O_NONBLOCK', () => {
    const [r] = pipe();
    setNonBlocking(r, false);
    setNonBlocking(r, true);
    expect(fdRead(r, new Uint8Array(1))).toBe(-1);
    expect(() => setNonBlocking(1_000_000)).toThrow(expect.objectContaining({ code: 'EBADF' }));
  });

  it('a worker thread that exits with an active handler shuts down cleanly', async () => {
    const addonPath = createRequire(import.meta.url).resolve('../build/Release/tornado_ioloop.node');
    // The worker exits while two watchers are active (one of them mid-close): the addon's
    // cleanup hook must close them before Node closes the worker's loop, or Node aborts.
    const code = `
      const a = require(${JSON.stringify(addonPath)});
      const { parentPort } = require('node:worker_threads');
      const [r, w] = a.pipe();
      a.pollStart(r, 1, () => {});
      const h = a.pollStart(w, 4, () => {
        a.pollClose(h);
        a.pollStart(w, 4, () => {});
        parentPort.postMessage('writable');
        process.exit(3);
      });
    `;
    const worker = new Worker(code, { eval: true });
    const messages: unknown[] = [];
    worker.on('message', (m) => messages.push(m));
    const exitCode = await new Promise((resolve, reject) => {
      worker.once('exit', resolve);
      worker.once('error', reject);
    });
    expect(exitCode).toBe(3);
    expect(messages).toEqual(['writable']);
    // and this thread's addon instance is unaffected
    const [r, w] = pipe();
    const ev = nextEvent(r, READ);
    fdWrite(w, new Uint8Array([1]));
    expect((await ev) & READ).toBe(READ);
  });
});

describe.skipIf(!support.available)('fd handlers on a TCP socket', () => {
  /** A connected socket pair: `fd` is a raw client socket nobody else polls, `peer` a net.Socket. */
  async function socketPair(): Promise<{ fd: number; client: net.Socket; peer: net.Socket }> {
    const server = net.createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const port = (server.address() as net.AddressInfo).port;
    const accepted = new Promise<net.Socket>((resolve) => server.once('connection', resolve));
    const client = net.connect(port, '127.0.0.1');
    client.pause(); // never start reading: libuv then stops watching the fd after connect
    await new Promise<void>((resolve) => client.once('connect', () => resolve()));
    const peer = await accepted;
    server.close();
    const fd = (client as unknown as { _handle: { fd: number } })._handle.fd;
    cleanups.push(
      () => client.destroy(),
      () => peer.destroy(),
    );
    return { fd, client, peer };
  }

  it('read readiness, fdRead on the socket, write readiness, fdWrite to the peer', async () => {
    const { fd, peer } = await socketPair();
    expect(fd).toBeGreaterThan(2);
    const writable = await nextEvent(fd, WRITE);
    expect(writable & WRITE).toBe(WRITE);
    const received = new Promise<string>((resolve) => peer.once('data', (d) => resolve(d.toString())));
    expect(fdWrite(fd, new TextEncoder().encode('ping'))).toBe(4);
    expect(await received).toBe('ping');
    const readable = nextEvent(fd, READ);
    peer.write('pong');
    expect((await readable) & READ).toBe(READ);
    const buf = new Uint8Array(16);
    expect(fdRead(fd, buf)).toBe(4);
    expect(new TextDecoder().decode(buf.subarray(0, 4))).toBe('pong');
    expect(fdRead(fd, buf)).toBe(-1);
  });

  it('READ|WRITE on a writable socket still reports READ when data arrives', async () => {
    const { fd, peer } = await socketPair();
    let sawWriteOnly = false;
    const got = new Promise<number>((resolve) => {
      loop.addHandler(
        fd,
        (_fd, ev) => {
          if ((ev & READ) === 0) {
            // writable all the time: only then send data, so READ must show up next to WRITE
            if (!sawWriteOnly) peer.write('x');
            sawWriteOnly = true;
            return;
          }
          loop.removeHandler(fd);
          resolve(ev);
        },
        READ | WRITE,
      );
    });
    const ev = await got;
    expect(sawWriteOnly).toBe(true);
    expect(ev & (READ | WRITE)).toBe(READ | WRITE);
  });

  it('peer close: READ then EOF (a half-close is not an error)', async () => {
    const { fd, peer } = await socketPair();
    const ev = nextEvent(fd, READ);
    peer.end();
    const got = await ev;
    expect(got & READ).toBe(READ);
    expect(got & ERROR).toBe(0);
    expect(fdRead(fd, new Uint8Array(4))).toBe(0);
  });

  it('hang-up: a reset by the peer gives ERROR and the read fails with ECONNRESET', async () => {
    const { fd, peer } = await socketPair();
    const ev = nextEvent(fd, READ, (e) => (e & ERROR) !== 0);
    peer.resetAndDestroy();
    expect((await ev) & ERROR).toBe(ERROR);
    expect(() => fdRead(fd, new Uint8Array(4))).toThrow(expect.objectContaining({ code: 'ECONNRESET' }));
  });
});
