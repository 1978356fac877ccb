import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import https from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HTTPHeaders, type HTTPServerRequest, ResponseStartLine } from '../src/index';
import { type Running, startServer } from './helpers/server';

let hasOpenssl = true;
try {
  execFileSync('openssl', ['version'], { stdio: 'ignore' });
} catch {
  hasOpenssl = false;
}

describe.skipIf(!hasOpenssl)('https', () => {
  let dir: string;
  let s: Running;
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'httpserver-tls-'));
    execFileSync(
      'openssl',
      [
        'req',
        '-x509',
        '-newkey',
        'rsa:2048',
        '-nodes',
        '-keyout',
        join(dir, 'key.pem'),
        '-out',
        join(dir, 'cert.pem'),
        '-days',
        '1',
        '-subj',
        '/CN=localhost',
      ],
      { stdio: 'ignore' },
    );
    s = await startServer(
      (req: HTTPServerRequest) => {
        const body = `${req.protocol} ${req.fullUrl()}`;
        const c = req.connection!;
        void c.writeHeaders(
          new ResponseStartLine('HTTP/1.1', 200, 'OK'),
          new HTTPHeaders({ 'Content-Length': String(body.length) }),
          body,
        );
        c.finish();
      },
      { sslOptions: { key: readFileSync(join(dir, 'key.pem')), cert: readFileSync(join(dir, 'cert.pem')) } },
    );
  });
  afterAll(async () => {
    await s?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('serves https with request.protocol "https", keep-alive included', async () => {
    const agent = new https.Agent({ keepAlive: true, maxSockets: 1, rejectUnauthorized: false });
    const get = (path: string) =>
      new Promise<string>((resolve, reject) => {
        https
          .get({ host: '127.0.0.1', port: s.port, path, agent, headers: { Host: 'secure.test' } }, (res) => {
            let d = '';
            res.on('data', (c) => {
              d += c;
            });
            res.on('end', () => resolve(d));
          })
          .on('error', reject);
      });
    try {
      expect(await get('/one')).toBe('https https://secure.test/one');
      expect(await get('/two')).toBe('https https://secure.test/two');
    } finally {
      agent.destroy();
    }
  });
});
