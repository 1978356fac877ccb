import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  AddonMissingError,
  fdPipe,
  fdRead,
  fdSupport,
  fdWrite,
  IOLoop,
  IOLoopError,
  setNonBlocking,
} from '../src/index';
import { type NativeAddon, type PollHandle, setAddonLoader } from '../src/native';
import { captureLogs } from './helpers';

let loop: IOLoop;
beforeEach(() => {
  loop = new IOLoop();
});
afterEach(() => {
  loop.close();
  setAddonLoader(null);
  delete process.env.TORNADO_TS_IOLOOP_NO_ADDON;
});

describe('when the native addon is missing', () => {
  it('TORNADO_TS_IOLOOP_NO_ADDON simulates it: fd APIs throw a clear error, the rest works', async () => {
    process.env.TORNADO_TS_IOLOOP_NO_ADDON = '1';
    setAddonLoader(null);
    const support = fdSupport();
    expect(support.available).toBe(false);
    expect(support.reason).toMatch(/TORNADO_TS_IOLOOP_NO_ADDON/);
    const err = (() => {
      try {
        loop.addHandler(0, () => {}, IOLoop.READ);
      } catch (e) {
        return e as AddonMissingError;
      }
      return null;
    })();
    expect(err).toBeInstanceOf(AddonMissingError);
    expect(err?.name).toBe('AddonMissingError');
    expect(err?.code).toBe('ERR_IOLOOP_ADDON_MISSING');
    expect(err?.message).toContain('npm rebuild @tornado-ts/ioloop');
    expect(err?.message).toContain('python3, make, g++');
    const buf = new Uint8Array(4);
    expect(() => fdRead(0, buf)).toThrow(AddonMissingError);
    expect(() => fdWrite(1, buf)).toThrow(AddonMissingError);
    expect(() => setNonBlocking(0)).toThrow(AddonMissingError);
    expect(() => fdPipe()).toThrow(AddonMissingError);
    expect(loop.hasHandler(0)).toBe(false);
    // everything else still works
    expect(await loop.runSync(async () => 'fine')).toBe('fine');
  });

  it('reports a missing file and a loader failure with their reasons', () => {
    setAddonLoader(() => {
      throw Object.assign(new Error("Cannot find module '../build/Release/tornado_ioloop.node'"), {
        code: 'MODULE_NOT_FOUND',
      });
    });
    expect(fdSupport()).toEqual({ available: false, reason: 'build/Release/tornado_ioloop.node not found' });
    setAddonLoader(() => {
      throw new Error('wrong ELF class');
    });
    expect(fdSupport().reason).toBe('wrong ELF class');
    expect(() => loop.addHandler(3, () => {}, IOLoop.READ)).toThrow(/wrong ELF class/);
  });
});

describe('handler bookkeeping (with a scripted addon)', () => {
  function fakeAddon() {
    const polls = new Map<
      PollHandle,
      { fd: number; events: number; cb: (ev: number) => void; open: boolean }
    >();
    const a: NativeAddon = {
      pollStart(fd, events, cb, _flags, recv) {
        const h = {} as PollHandle;
        polls.set(h, { fd, events, cb: (ev: number) => cb.call(recv as never, ev), open: true });
        return h;
      },
      pollUpdate(h, events) {
        polls.get(h)!.events = events;
      },
      pollClose(h) {
        polls.get(h)!.open = false;
      },
      read: () => -1,
      write: (_fd, _b, _o, len) => len,
      setNonBlocking() {},
      pipe: () => [100, 101],
      accept: () => null,
      sockName: () => ['', 0, 'unix'],
      dup: (fd) => fd + 1000,
      close() {},
      shutdown() {},
      setNoDelay() {},
      writeString: (_fd, s) => s.length,
    };
    return { a, polls };
  }

  it('add / update / remove, double add, unknown fd, bad arguments', () => {
    const { a, polls } = fakeAddon();
    setAddonLoader(() => a);
    expect(fdSupport()).toEqual({ available: true });
    const events: number[] = [];
    loop.addHandler(7, (fd, ev) => events.push(fd, ev), IOLoop.READ | IOLoop.ERROR);
    const [h, st] = [...polls][0]!;
    expect(st.events).toBe(IOLoop.READ | IOLoop.ERROR);
    expect(() => loop.addHandler(7, () => {}, IOLoop.READ)).toThrow(IOLoopError);
    const other = new IOLoop();
    expect(() => other.addHandler(7, () => {}, IOLoop.READ)).toThrow(/already has a handler/);
    other.close();
    loop.updateHandler(7, IOLoop.WRITE);
    expect(st.events).toBe(IOLoop.WRITE);
    st.cb(IOLoop.WRITE | IOLoop.ERROR);
    expect(events).toEqual([7, IOLoop.WRITE | IOLoop.ERROR]);
    expect(() => loop.updateHandler(8, IOLoop.READ)).toThrow(/fd 8 has no handler/);
    expect(() => loop.addHandler(-1, () => {}, IOLoop.READ)).toThrow(TypeError);
    expect(() => loop.addHandler(9, () => {}, 0x100)).toThrow(/mask of IOLoop.READ/);
    expect(() => loop.addHandler(9, 'x' as never, IOLoop.READ)).toThrow(TypeError);
    loop.removeHandler(7);
    loop.removeHandler(7);
    expect(polls.get(h)?.open).toBe(false);
    st.cb(IOLoop.READ); // late notification after removal is dropped
    expect(events).toHaveLength(2);
    expect(fdWrite(1, new Uint8Array(3))).toBe(3);
    expect(fdRead(1, new Uint8Array(3), 1, 2)).toBe(-1);
    expect(() => fdRead(1, new Uint8Array(3), 2, 2)).toThrow(RangeError);
    expect(() => fdWrite(1, new Uint8Array(3), -1)).toThrow(RangeError);
    expect(fdPipe()).toEqual([100, 101]);
    setNonBlocking(3, false);
  });

  it('logs a throwing or rejecting handler with its name', async () => {
    const { a, polls } = fakeAddon();
    setAddonLoader(() => a);
    const { lines, restore } = captureLogs();
    loop.addHandler(
      5,
      function badHandler() {
        throw new Error('h');
      },
      IOLoop.READ,
    );
    loop.addHandler(
      6,
      async function asyncHandler() {
        throw new Error('a');
      },
      IOLoop.READ,
    );
    for (const st of polls.values()) st.cb(IOLoop.READ);
    await new Promise((r) => setImmediate(r));
    restore();
    expect(lines.map((l) => l.msg)).toEqual([
      'Exception in handler badHandler for fd 5:',
      'Exception in handler asyncHandler for fd 6:',
    ]);
  });

  it('close(true) removes handlers and closes their fds; a closed loop refuses handlers', () => {
    const { a, polls } = fakeAddon();
    setAddonLoader(() => a);
    loop.addHandler(100000, () => {}, IOLoop.READ); // not a real fd: closing it fails quietly
    loop.close(true);
    expect([...polls.values()].every((p) => !p.open)).toBe(true);
    expect(() => loop.addHandler(4, () => {}, IOLoop.READ)).toThrow(/closed/);
  });
});
