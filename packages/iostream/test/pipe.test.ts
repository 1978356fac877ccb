import { type ChildProcess, spawn } from 'node:child_process';
import { closeSync } from 'node:fs';
import { fdPipe, fdSupport, setNonBlocking } from '@tornado-ts/ioloop';
import { afterEach, describe, expect, it } from 'vitest';
import { PipeIOStream, StreamClosedError } from '../src/index';

const children: ChildProcess[] = [];
const streams: PipeIOStream[] = [];
afterEach(() => {
  for (const s of streams.splice(0)) s.close();
  for (const c of children.splice(0)) if (c.exitCode === null && c.signalCode === null) c.kill();
});

function exited(c: ChildProcess): Promise<number | null> {
  return new Promise((r) => (c.exitCode !== null ? r(c.exitCode) : c.once('exit', (code) => r(code))));
}

/** A pipe whose `childEnd` is blocking (as a child process expects) and whose other end is ours. */
function pipeForChild(childEnd: 'read' | 'write'): { ours: number; theirs: number } {
  const [r, w] = fdPipe();
  const theirs = childEnd === 'read' ? r : w;
  setNonBlocking(theirs, false);
  return { ours: childEnd === 'read' ? w : r, theirs };
}

describe.skipIf(!fdSupport().available)('PipeIOStream', () => {
  it('reads a child process stdout line by line, then until close', async () => {
    const out = pipeForChild('write');
    const child = spawn('sh', ['-c', 'printf "one\\ntwo\\n"; sleep 0.05; printf "three\\nrest"'], {
      stdio: ['ignore', out.theirs, 'inherit'],
    });
    children.push(child);
    closeSync(out.theirs);
    const s = new PipeIOStream(out.ours);
    streams.push(s);
    expect(s.fd).toBe(out.ours);
    expect((await s.readUntil('\n')).toString()).toBe('one\n');
    expect((await s.readUntil('\n')).toString()).toBe('two\n');
    expect((await s.readUntil('\n')).toString()).toBe('three\n');
    expect((await s.readUntilClose()).toString()).toBe('rest');
    expect(s.closed()).toBe(true);
    await expect(s.readBytes(1)).rejects.toBeInstanceOf(StreamClosedError);
    expect(await exited(child)).toBe(0);
  });

  it('writes to a child stdin and reads its output back (4 MiB through cat, more than a pipe holds)', async () => {
    const inp = pipeForChild('read');
    const out = pipeForChild('write');
    const child = spawn('cat', [], { stdio: [inp.theirs, out.theirs, 'inherit'] });
    children.push(child);
    closeSync(inp.theirs);
    closeSync(out.theirs);
    const w = new PipeIOStream(inp.ours);
    const r = new PipeIOStream(out.ours, { readChunkSize: 16 * 1024 });
    streams.push(w, r);
    const data = Buffer.alloc(4 << 20);
    for (let i = 0; i < data.length; i++) data[i] = (i * 7) % 256;
    const reading = r.readUntilClose();
    await w.write(data.subarray(0, 1 << 20));
    await w.write(data.subarray(1 << 20));
    w.close(); // EOF for cat
    const got = await reading;
    expect(got.length).toBe(data.length);
    expect(got.equals(data)).toBe(true);
    expect(await exited(child)).toBe(0);
  });

  it('between two ends of one pipe: small reads, partial reads, EOF on close', async () => {
    const [rfd, wfd] = fdPipe();
    const r = new PipeIOStream(rfd);
    const w = new PipeIOStream(wfd);
    streams.push(r, w);
    await w.write('hello ');
    await w.write('world');
    expect((await r.readBytes(5)).toString()).toBe('hello');
    // A partial read gets what has arrived (the writes may reach the reader as separate chunks).
    let rest = (await r.readBytes(100, { partial: true })).toString();
    expect(rest.length).toBeGreaterThan(0);
    while (rest.length < 6) rest += (await r.readBytes(100, { partial: true })).toString();
    expect(rest).toBe(' world');
    const pending = r.readBytes(10);
    w.close();
    await expect(pending).rejects.toBeInstanceOf(StreamClosedError);
    expect(r.closed()).toBe(true);
  });

  it('a write to a pipe whose reader is gone fails with EPIPE as the realError', async () => {
    const [rfd, wfd] = fdPipe();
    closeSync(rfd);
    const w = new PipeIOStream(wfd);
    streams.push(w);
    const err = await w.write('x').catch((e) => e);
    expect(err).toBeInstanceOf(StreamClosedError);
    expect((err.realError as NodeJS.ErrnoException).code).toBe('EPIPE');
    expect(w.closed()).toBe(true);
  });

  it('closing the stream closes the fd', async () => {
    const [rfd, wfd] = fdPipe();
    const r = new PipeIOStream(rfd);
    r.close();
    await new Promise((res) => setImmediate(res));
    expect(() => closeSync(rfd)).toThrow(/EBADF/);
    closeSync(wfd);
  });

  it('rejects a bad fd', () => {
    expect(() => new PipeIOStream(-1)).toThrow(TypeError);
  });
});
