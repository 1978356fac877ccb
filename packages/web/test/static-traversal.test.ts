import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Application, StaticFileHandler } from '../src/index';
import { client, type TestClient } from './helpers';

const top = mkdtempSync(join(tmpdir(), 'web-adv-'));
const root = join(top, 'root');

describe('static files: traversal attempts', () => {
  let c: TestClient;
  beforeAll(async () => {
    mkdirSync(join(root, 'evil'), { recursive: true });
    mkdirSync(join(root, 'ok'), { recursive: true });
    writeFileSync(join(top, 'secret.html'), 'top secret');
    writeFileSync(join(root, 'ok', 'index.html'), 'fine');
    writeFileSync(join(root, 'a.txt'), 'a');
    // a default file that is a symlink leading out of the root
    symlinkSync(join(top, 'secret.html'), join(root, 'evil', 'index.html'));
    c = await client(
      new Application([], { staticPath: root, staticHandlerArgs: { defaultFilename: 'index.html' } }),
    );
  });
  afterAll(async () => {
    await c.close();
    StaticFileHandler.resetCache();
    rmSync(top, { recursive: true, force: true });
  });

  it('refuses a default file that is a symlink out of the root', async () => {
    const r = await c.get('/static/evil/');
    expect(r.status).toBe(403);
    expect(r.text()).not.toContain('top secret');
    expect((await c.get('/static/ok/')).text()).toBe('fine');
  });

  it('never serves anything outside the root for encoded, doubled, backslashed or odd paths', async () => {
    const attempts = [
      '/static/..%2f..%2fsecret.html',
      '/static/%2e%2e%2fsecret.html',
      '/static/%2E%2E/secret.html',
      '/static/%252e%252e%252fsecret.html',
      '/static/..%5csecret.html',
      '/static/..\\secret.html',
      '/static/%00../secret.html',
      '/static/a.txt%00',
      `/static/${encodeURIComponent(top)}/secret.html`,
      `/static//${top.slice(1)}/secret.html`,
      '/static/C:%5csecret.html',
      '/static/c:/secret.html',
      `/static/${'a/'.repeat(3000)}x`,
      `/static/${'x'.repeat(5000)}`,
      '/static/ok/%2e%2e/%2e%2e/secret.html',
    ];
    for (const p of attempts) {
      const r = await c.get(p);
      expect([400, 403, 404], p.slice(0, 60)).toContain(r.status);
      expect(r.text()).not.toContain('top secret');
    }
  });
});
