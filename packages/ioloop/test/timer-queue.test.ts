import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { type QueuedTimer, T_CANCELLED, T_PENDING, TimerQueue } from '../src/timer-queue';

function byDeadline(a: QueuedTimer, b: QueuedTimer): number {
  return a.deadline - b.deadline || a.seq - b.seq;
}

describe('TimerQueue', () => {
  it('pops in (deadline, insertion) order whatever the insertion order, with cancellations and compactions', () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.oneof(
            fc.record({ op: fc.constant('push' as const), deadline: fc.integer({ min: 0, max: 50 }) }),
            fc.record({ op: fc.constant('cancel' as const), pick: fc.nat() }),
            fc.record({ op: fc.constant('pop' as const) }),
            fc.record({ op: fc.constant('compact' as const) }),
          ),
          { maxLength: 300 },
        ),
        (ops) => {
          const q = new TimerQueue();
          const live: QueuedTimer[] = [];
          let seq = 0;
          for (const o of ops) {
            if (o.op === 'push') {
              const t = { deadline: o.deadline, seq: seq++, state: T_PENDING };
              q.push(t);
              live.push(t);
            } else if (o.op === 'cancel' && live.length > 0) {
              const [t] = live.splice(o.pick % live.length, 1);
              t!.state = T_CANCELLED;
              q.cancelled++;
            } else if (o.op === 'compact') {
              q.compact();
              expect(q.size).toBe(live.length);
            } else if (o.op === 'pop') {
              // pop the earliest live one, skipping cancelled ones like the IOLoop does
              let t = q.pop();
              while (t !== undefined && t.state === T_CANCELLED) {
                q.cancelled--;
                t = q.pop();
              }
              live.sort(byDeadline);
              expect(t).toBe(live.shift());
            }
            expect(q.size - q.cancelled).toBe(live.length);
          }
          const rest: QueuedTimer[] = [];
          for (let t = q.pop(); t !== undefined; t = q.pop()) if (t.state !== T_CANCELLED) rest.push(t);
          expect(rest).toEqual(live.sort(byDeadline));
          expect(q.peek()).toBeUndefined();
        },
      ),
      { numRuns: 300 },
    );
  });

  it('keeps a long in-order run cheap and correct across its internal trimming', () => {
    const q = new TimerQueue();
    const n = 5000;
    for (let i = 0; i < n; i++) q.push({ deadline: i, seq: i, state: T_PENDING });
    q.push({ deadline: 2500.5, seq: n, state: T_PENDING }); // out of order: goes to the heap
    const out: number[] = [];
    for (let i = 0; i < 3000; i++) out.push(q.pop()!.deadline);
    for (let i = 0; i < 100; i++) q.push({ deadline: 10_000 + i, seq: n + 1 + i, state: T_PENDING });
    for (let t = q.pop(); t !== undefined; t = q.pop()) out.push(t.deadline);
    const expected = [
      ...Array.from({ length: n }, (_, i) => i),
      2500.5,
      ...Array.from({ length: 100 }, (_, i) => 10_000 + i),
    ];
    expect(out).toEqual(expected.sort((a, b) => a - b));
    expect(q.size).toBe(0);
  });

  it('clear() visits every stored timeout', () => {
    const q = new TimerQueue();
    q.push({ deadline: 2, seq: 0, state: T_PENDING });
    q.push({ deadline: 1, seq: 1, state: T_PENDING });
    q.pop();
    q.push({ deadline: 3, seq: 2, state: T_PENDING });
    const seen: number[] = [];
    q.clear((t) => seen.push(t.deadline));
    expect(seen.sort()).toEqual([2, 3]);
    expect(q.size).toBe(0);
    q.clear();
  });
});
