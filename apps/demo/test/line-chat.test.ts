import { afterEach, describe, expect, it, vi } from 'vitest';
import { formatLine, LineChatServer } from '../src/line-chat';
import { MemoryStore } from '../src/memory-store';
import { LineClient } from './helpers/lines';

let server: LineChatServer | null = null;
const clients: LineClient[] = [];

afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.destroy()));
  await server?.stop();
  await server?.closeAllClients();
  server = null;
});

async function start(store = new MemoryStore(), opts = {}): Promise<{ store: MemoryStore; port: number }> {
  server = new LineChatServer(store, opts);
  await server.listen(0, '127.0.0.1');
  const port = server.addresses()[0]!.port;
  return { store, port };
}

async function client(port: number): Promise<LineClient> {
  const c = await LineClient.connect(port);
  clients.push(c);
  await c.waitFor('* welcome');
  return c;
}

describe('line-based TCP chat', () => {
  it('turns lines into messages and streams every message out', async () => {
    const { store, port } = await start();
    const a = await client(port);
    const b = await client(port);
    expect(a.lines[0]).toMatch(/you are tcp-guest-\d+/);
    a.send('hello over tcp');
    const seen = await b.waitFor('hello over tcp');
    expect(seen).toMatch(/^\[\d\d:\d\d\] tcp-guest-\d+: hello over tcp$/);
    expect(store.since().map((m) => m.body)).toEqual(['hello over tcp']);
    // Messages from elsewhere (the web app) reach TCP clients too.
    await store.add({ from: 'web-ann', body: 'from the browser', image: '/images/abc' });
    expect(await a.waitFor('web-ann')).toMatch(/web-ann: from the browser \[image \/images\/abc\]$/);
    expect(server!.clientCount).toBe(2);
  });

  it('renames with /nick, lists with /who, refuses bad names and unknown commands', async () => {
    const { store, port } = await start();
    const a = await client(port);
    a.send('/nick  ada ');
    await a.waitFor('* you are now ada');
    a.send('/nick');
    expect(await a.waitFor('!')).toBe('! a name is required');
    a.send('/who');
    expect(await a.waitFor(/^\* here over TCP:/)).toBe('* here over TCP: ada');
    a.send('/dance');
    await a.waitFor('! unknown command /dance');
    a.send('/help');
    a.send('   ');
    a.send('hi\r');
    await a.waitFor('ada: hi');
    expect(store.since().map((m) => [m.from, m.body])).toEqual([['ada', 'hi']]);
    expect(a.lines.filter((l) => l.startsWith('* commands')).length).toBe(3); // welcome, unknown, /help
  });

  it('replays recent messages to a newcomer and formats multi-line bodies', async () => {
    const store = new MemoryStore();
    for (let i = 1; i <= 4; i++) await store.add({ from: 'ann', body: `m${i}` });
    await store.add({ from: 'ann', body: 'two\nlines' });
    const { port } = await start(store, { replay: 3 });
    const a = await client(port);
    await a.waitFor('    lines');
    expect(a.lines.slice(2).map((l) => l.replace(/^\[\d\d:\d\d\] /, ''))).toEqual([
      'ann: m3',
      'ann: m4',
      'ann: two',
      '    lines',
    ]);
  });

  it('closes a client on /quit and on an over-long line, and keeps serving the others', async () => {
    const { store, port } = await start(new MemoryStore(), { maxLineBytes: 64 });
    const a = await client(port);
    const b = await client(port);
    a.send('/quit');
    await a.waitFor('* bye');
    await a.closed();
    // readUntil's maxBytes: the stream is closed on an over-long line, nothing is posted.
    b.send('x'.repeat(200));
    await b.closed();
    const c = await client(port);
    c.send('still here');
    await c.waitFor('still here');
    expect(store.since().map((m) => m.body)).toEqual(['still here']);
  });

  it('forgets clients that disconnect and says goodbye on shutdown', async () => {
    const { store, port } = await start();
    const a = await client(port);
    const b = await client(port);
    await a.destroy();
    // The server notices when it next reads; posting from b proves it is still serving.
    b.send('after a left');
    await b.waitFor('after a left');
    await store.add({ from: 'web', body: 'ping' });
    await b.waitFor('web: ping');
    await vi.waitFor(() => expect(server!.clientCount).toBe(1));
    await server!.stop();
    await server!.closeAllClients();
    expect(await b.waitFor('* server')).toBe('* server shutting down');
    await b.closed();
  });

  it('drops a client that stops reading instead of buffering for it without bound', async () => {
    const { store, port } = await start(new MemoryStore(), { maxWriteBufferSize: 16 * 1024 });
    const lazy = await client(port);
    const reader = await client(port);
    lazy.socket.pause();
    const body = 'y'.repeat(2000);
    for (let i = 0; i < 20_000 && server!.clientCount === 2; i++) {
      await store.add({ from: 'flood', body });
      if (i % 5 === 0) await new Promise((r) => setImmediate(r));
    }
    await vi.waitFor(() => expect(server!.clientCount).toBe(1));
    reader.send('still fine');
    await reader.waitFor('still fine');
  });

  it('formats a message as one line', () => {
    const time = new Date(2026, 0, 2, 3, 4).getTime();
    expect(formatLine({ id: 1, from: 'a', body: 'x', time })).toBe('[03:04] a: x\n');
    expect(formatLine({ id: 1, from: 'a', body: '', image: '/images/i', time })).toBe(
      '[03:04] a: [image /images/i]\n',
    );
  });
});
