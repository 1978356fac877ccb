import { execFile } from 'node:child_process';
import http from 'node:http';
import { promisify } from 'node:util';
import { Agent, Pool, request as undiciRequest } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HTTPHeaders, type HTTPServerRequest, ResponseStartLine } from '../src/index';
import { type Running, startServer } from './helpers/server';

const run = promisify(execFile);

/** Echoes method, uri, body and the client's port (to tell connections apart) as JSON. */
function jsonEcho(req: HTTPServerRequest): void {
  const addr = req.connection?.context?.address as { port?: number } | undefined;
  const payload = JSON.stringify({
    method: req.method,
    uri: req.uri,
    body: req.body.toString(),
    port: addr?.port,
    te: req.headers.get('Transfer-Encoding') ?? null,
    args: req.arguments,
  });
  const c = req.connection!;
  void c.writeHeaders(
    new ResponseStartLine('HTTP/1.1', 200, 'OK'),
    new HTTPHeaders({
      'Content-Type': 'application/json',
      'Content-Length': String(Buffer.byteLength(payload)),
    }),
    req.method === 'HEAD' ? undefined : payload,
  );
  c.finish();
}

let s: Running;
let base: string;
beforeAll(async () => {
  s = await startServer(jsonEcho);
  base = `http://127.0.0.1:${s.port}`;
});
afterAll(async () => {
  await s.close();
});

describe('interop', () => {
  it('fetch: GET and POST over one keep-alive connection', async () => {
    const agent = new Agent({ connections: 1 });
    try {
      const a = (await (
        await fetch(`${base}/a?x=1`, { dispatcher: agent } as unknown as RequestInit)
      ).json()) as {
        port: number;
        args: unknown;
      };
      const b = (await (
        await fetch(`${base}/b`, {
          method: 'POST',
          body: 'payload',
          dispatcher: agent,
        } as unknown as RequestInit)
      ).json()) as { port: number; body: string; method: string };
      expect(a.args).toEqual({ x: ['1'] });
      expect(b.method).toBe('POST');
      expect(b.body).toBe('payload');
      expect(b.port).toBe(a.port);
    } finally {
      await agent.close();
    }
  });

  it('fetch: a streamed (chunked) request body', async () => {
    const stream = new ReadableStream({
      start(ctrl) {
        ctrl.enqueue(new TextEncoder().encode('part1-'));
        ctrl.enqueue(new TextEncoder().encode('part2'));
        ctrl.close();
      },
    });
    const res = await fetch(`${base}/stream`, {
      method: 'PUT',
      body: stream,
      duplex: 'half',
    } as unknown as RequestInit);
    const j = (await res.json()) as { body: string; te: string };
    expect(j.body).toBe('part1-part2');
    expect(j.te).toBe('chunked');
  });

  it('undici: 20 pipelined requests on one connection come back in order', async () => {
    const pool = new Pool(base, { connections: 1, pipelining: 10 });
    try {
      const results = await Promise.all(
        Array.from({ length: 20 }, async (_, i) => {
          const r = await pool.request({ path: `/p${i}`, method: 'GET' });
          return (await r.body.json()) as { uri: string; port: number };
        }),
      );
      expect(results.map((r) => r.uri)).toEqual(Array.from({ length: 20 }, (_, i) => `/p${i}`));
      expect(new Set(results.map((r) => r.port)).size).toBe(1);
    } finally {
      await pool.close();
    }
  });

  it('undici.request: form body', async () => {
    const r = await undiciRequest(`${base}/form`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: 'k=v&k=w',
    });
    const j = (await r.body.json()) as { args: unknown };
    expect(j.args).toEqual({ k: ['v', 'w'] });
  });

  it("node:http's client with a keep-alive agent", async () => {
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    const get = (path: string, body?: string) =>
      new Promise<{ status: number; json: { port: number; body: string } }>((resolve, reject) => {
        const req = http.request(`${base}${path}`, { agent, method: body ? 'POST' : 'GET' }, (res) => {
          let data = '';
          res.setEncoding('utf8');
          res.on('data', (d) => {
            data += d;
          });
          res.on('end', () => resolve({ status: res.statusCode ?? 0, json: JSON.parse(data) }));
        });
        req.on('error', reject);
        req.end(body);
      });
    try {
      const one = await get('/n1');
      const two = await get('/n2', 'node body');
      expect(one.status).toBe(200);
      expect(two.json.body).toBe('node body');
      expect(two.json.port).toBe(one.json.port);
    } finally {
      agent.destroy();
    }
  });

  it('curl: GET, HEAD, chunked upload and Expect: 100-continue', async () => {
    const get = await run('curl', ['-s', '--http1.1', `${base}/curl?q=a%20b`]);
    expect(JSON.parse(get.stdout).args).toEqual({ q: ['a b'] });
    const head = await run('curl', ['-s', '-I', `${base}/h`]);
    expect(head.stdout).toMatch(/^HTTP\/1\.1 200 OK/);
    expect(head.stdout).toMatch(/Content-Length: \d+/);
    const chunked = await run('curl', [
      '-s',
      '-H',
      'Transfer-Encoding: chunked',
      '--data-binary',
      'chunky',
      `${base}/c`,
    ]);
    expect(JSON.parse(chunked.stdout)).toMatchObject({ body: 'chunky', te: 'chunked' });
    const cont = await run('curl', [
      '-s',
      '-v',
      '-H',
      'Expect: 100-continue',
      '--data-binary',
      'waited',
      `${base}/e`,
    ]);
    expect(cont.stderr).toContain('HTTP/1.1 100 Continue');
    expect(JSON.parse(cont.stdout).body).toBe('waited');
  });

  it("Python's http.client: GET, POST and a chunked body on one connection", async () => {
    const script = `
import http.client, json, sys
c = http.client.HTTPConnection('127.0.0.1', PORT)
c.request('GET', '/py?a=1')
r1 = json.loads(c.getresponse().read())
c.request('POST', '/py', body=b'python body', headers={'Content-Type': 'text/plain'})
r2 = json.loads(c.getresponse().read())
c.request('POST', '/py', body=iter([b'ab', b'cd']), encode_chunked=True)
r3 = json.loads(c.getresponse().read())
print(json.dumps([r1['args'], r2['body'], r3['body'], r3['te'], r1['port'] == r2['port'] == r3['port']]))
`.replace('PORT', String(s.port));
    const out = await run('python3', ['-c', script]);
    expect(JSON.parse(out.stdout)).toEqual([{ a: ['1'] }, 'python body', 'abcd', 'chunked', true]);
  });
});
