// Model-based property test: any mix of chunk arrivals and reads gives what a plain
// "one big Buffer" model says, whether a read is served from the buffer or waits for data.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { IOStream } from '../src/index';
import { FakeSocket, tick } from './helpers';

type Op =
  | { t: 'bytes'; n: number; partial: boolean }
  | { t: 'until'; d: number[] }
  | { t: 'regex'; d: number[] }
  | { t: 'into'; n: number; partial: boolean }
  | { t: 'tryBytes'; n: number }
  | { t: 'tryUntil'; d: number[] };

const byte = fc.integer({ min: 0, max: 3 }).map((b) => 0x61 + b); // 'a'..'d': delimiters hit often
const opArb: fc.Arbitrary<Op> = fc.oneof(
  fc.record({ t: fc.constant('bytes' as const), n: fc.integer({ min: 1, max: 40 }), partial: fc.boolean() }),
  fc.record({ t: fc.constant('until' as const), d: fc.array(byte, { minLength: 1, maxLength: 3 }) }),
  fc.record({ t: fc.constant('regex' as const), d: fc.array(byte, { minLength: 1, maxLength: 2 }) }),
  fc.record({ t: fc.constant('into' as const), n: fc.integer({ min: 1, max: 40 }), partial: fc.boolean() }),
  fc.record({ t: fc.constant('tryBytes' as const), n: fc.integer({ min: 0, max: 40 }) }),
  fc.record({ t: fc.constant('tryUntil' as const), d: fc.array(byte, { minLength: 1, maxLength: 3 }) }),
);

describe('IOStream against a model', () => {
  it('reads return exactly what the concatenated input says, whatever the chunking', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.array(byte, { minLength: 1, maxLength: 5 }), { minLength: 1, maxLength: 150 }),
        fc.array(opArb, { minLength: 1, maxLength: 30 }),
        fc.integer({ min: 0, max: 150 }),
        async (chunks, ops, upfront) => {
          const sock = new FakeSocket();
          const s = new IOStream(sock);
          let arrived = Buffer.alloc(0); // delivered and not yet read
          let next = 0;
          const deliver = async (k: number) => {
            for (let i = 0; i < k && next < chunks.length; i++, next++) {
              const c = Buffer.from(chunks[next]!);
              sock.feed(c);
              arrived = Buffer.concat([arrived, c]);
            }
            await tick();
          };
          const future = () => Buffer.concat([arrived, ...chunks.slice(next).map((c) => Buffer.from(c))]);
          await deliver(upfront);

          for (const op of ops) {
            if (op.t === 'tryBytes') {
              const got = s.tryReadBytes(op.n);
              if (arrived.length < op.n) expect(got).toBeNull();
              else {
                expect(Buffer.compare(got!, arrived.subarray(0, op.n))).toBe(0);
                arrived = arrived.subarray(op.n);
              }
              continue;
            }
            if (op.t === 'tryUntil') {
              const d = Buffer.from(op.d);
              const idx = arrived.indexOf(d);
              const got = s.tryReadUntil(d);
              if (idx < 0) expect(got).toBeNull();
              else {
                expect(Buffer.compare(got!, arrived.subarray(0, idx + d.length))).toBe(0);
                arrived = arrived.subarray(idx + d.length);
              }
              continue;
            }
            // What the read must return, given everything that will ever arrive.
            const all = future();
            let expectedLen: number;
            if (op.t === 'bytes' || op.t === 'into') {
              if (op.partial) {
                // Partial reads take what has arrived, or the next chunk when nothing has.
                const avail =
                  arrived.length > 0 ? arrived.length : next < chunks.length ? chunks[next]!.length : 0;
                if (avail === 0) continue;
                expectedLen = Math.min(op.n, avail);
              } else {
                if (all.length < op.n) continue; // would wait forever
                expectedLen = op.n;
              }
            } else {
              const d = Buffer.from(op.d);
              const idx = all.indexOf(d);
              if (idx < 0) continue;
              expectedLen = idx + d.length;
            }
            let settled = false;
            let got: Buffer;
            let p: Promise<void>;
            if (op.t === 'into') {
              const buf = Buffer.alloc(op.n);
              p = s.readInto(buf, { partial: op.partial }).then((k) => {
                got = buf.subarray(0, k);
                settled = true;
              });
            } else {
              const rp =
                op.t === 'bytes'
                  ? s.readBytes(op.n, { partial: op.partial })
                  : op.t === 'until'
                    ? s.readUntil(Buffer.from(op.d))
                    : s.readUntilRegex(new RegExp(Buffer.from(op.d).toString('latin1')));
              p = rp.then((b) => {
                got = b;
                settled = true;
              });
            }
            await Promise.resolve();
            while (!settled && next < chunks.length) await deliver(1);
            await p;
            expect(Buffer.compare(got!, all.subarray(0, expectedLen))).toBe(0);
            arrived = arrived.subarray(expectedLen);
            expect(s.readBufferSize).toBe(arrived.length);
          }
          s.close();
        },
      ),
      { numRuns: 200 },
    );
  });
});
