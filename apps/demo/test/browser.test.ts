import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Browser, type BrowserContext, chromium, type Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { type DemoProcess, spawnDemo } from './helpers/child';
import { startDemo } from './helpers/demo';
import { type RedisServer, startRedis } from './helpers/redis';
import { TINY_PNG } from './helpers/session';

/** Debian's Chromium (the CI installs it), headless, nothing talking to the outside. */
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

/** A visible new message must reach other browsers within this many ms (no reload). */
const DELIVERY_MS = 2000;

let browser: Browser;
const contexts: BrowserContext[] = [];

beforeAll(async () => {
  browser = await chromium.launch({ executablePath: CHROMIUM, args: ARGS });
});
afterAll(async () => {
  await browser?.close();
});
afterEach(async () => {
  await Promise.all(contexts.splice(0).map((c) => c.close()));
});

/** A fresh browser profile (own cookies) signed in as `name` on the chat page. */
async function signIn(base: string, name: string): Promise<Page> {
  const context = await browser.newContext({ viewport: { width: 720, height: 540 } });
  contexts.push(context);
  const page = await context.newPage();
  await page.goto(`${base}/`);
  expect(new URL(page.url()).pathname).toBe('/auth/login');
  await page.fill('#name', name);
  await page.click('#login-form button[type=submit]');
  await page.waitForURL(`${base}/`);
  await expect.poll(() => page.textContent('#me')).toBe(name);
  // Marks this document: if the page reloaded, the mark would be gone.
  await page.evaluate(() => {
    (window as unknown as { chatMark: number }).chatMark = 42;
  });
  return page;
}

async function post(page: Page, text: string): Promise<void> {
  await page.fill('#message-input', text);
  await page.press('#message-input', 'Enter');
}

async function notReloaded(page: Page): Promise<boolean> {
  return page.evaluate(() => (window as unknown as { chatMark?: number }).chatMark === 42);
}

describe('in a real browser', () => {
  type Demo = Awaited<ReturnType<typeof startDemo>>;
  let demo: Demo;
  let shots: string;

  beforeAll(async () => {
    demo = await startDemo({ chatPort: -1 });
    shots = await mkdtemp(join(tmpdir(), 'demo-shots-'));
  });
  afterAll(async () => {
    await demo?.shutdown();
    await rm(shots, { recursive: true, force: true });
  });

  it('delivers a message to another signed-in user within 2 s, without a reload', async () => {
    const alice = await signIn(demo.base, 'alice');
    const bob = await signIn(demo.base, 'bob');
    await post(alice, 'hello bob, from alice');
    await bob
      .locator('#inbox .message', { hasText: 'hello bob, from alice' })
      .waitFor({ state: 'visible', timeout: DELIVERY_MS });
    expect(await bob.locator('#inbox .message .from').last().textContent()).toBe('alice');
    expect(await notReloaded(bob)).toBe(true);
    // The sender sees it once, marked as their own; the input is cleared.
    await alice.locator('#inbox .message.mine', { hasText: 'hello bob' }).waitFor({ timeout: DELIVERY_MS });
    expect(await alice.locator('#inbox .message', { hasText: 'hello bob' }).count()).toBe(1);
    expect(await alice.inputValue('#message-input')).toBe('');
    // And the other way round; text is shown as text, never as HTML.
    await post(bob, '<img src=x onerror=alert(1)> hi alice');
    await alice
      .locator('#inbox .message .body', { hasText: '<img src=x onerror=alert(1)> hi alice' })
      .waitFor({ timeout: DELIVERY_MS });
    expect(await alice.locator('#inbox img:not(.image)').count()).toBe(0);
    expect(await notReloaded(alice)).toBe(true);
  });

  it('shows an uploaded image to everyone', async () => {
    const alice = await signIn(demo.base, 'alice');
    const bob = await signIn(demo.base, 'bob');
    await alice.setInputFiles('#image-input', { name: 'dot.png', mimeType: 'image/png', buffer: TINY_PNG });
    await alice.click('#upload-form button[type=submit]');
    const img = bob.locator('#inbox .message img.image').last();
    await img.waitFor({ state: 'visible', timeout: DELIVERY_MS });
    await expect.poll(() => img.evaluate((el: HTMLImageElement) => el.complete && el.naturalWidth)).toBe(1);
    expect(await img.getAttribute('src')).toMatch(/^\/images\/[0-9a-f]{32}$/);
    expect(await notReloaded(bob)).toBe(true);
  });

  it('refuses a POST without the xsrf token', async () => {
    const mallory = await signIn(demo.base, 'mallory');
    const before = demo.store.lastId();
    const status = await mallory.evaluate(async () => {
      const res = await fetch('/api/messages', {
        method: 'POST',
        headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify({ body: 'forged' }),
      });
      return res.status;
    });
    expect(status).toBe(403);
    // A plain form post (what a cross-site page can send) without the token: refused too.
    const formStatus = await mallory.evaluate(async () => {
      const res = await fetch('/a/message/new', {
        method: 'POST',
        body: new URLSearchParams({ body: 'forged' }),
      });
      return res.status;
    });
    expect(formStatus).toBe(403);
    expect(demo.store.lastId()).toBe(before);
  });

  it('writes a screenshot', async () => {
    const alice = await signIn(demo.base, 'alice');
    await post(alice, 'a picture of the room');
    await alice.locator('#inbox .message', { hasText: 'a picture of the room' }).waitFor();
    const path = join(shots, 'chat.png');
    await alice.screenshot({ path });
    const png = await readFile(path);
    expect(png.subarray(0, 8)).toEqual(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]));
    expect(png.readUInt32BE(16)).toBe(720); // IHDR width
    expect(png.length).toBeGreaterThan(5000);
  });
});

describe('in real browsers on several worker processes', () => {
  let redis: RedisServer;
  let proc: DemoProcess | null = null;

  beforeAll(async () => {
    redis = await startRedis();
  });
  afterAll(async () => {
    await proc?.kill();
    await redis?.stop();
  });

  it('users served by different workers see each other', async () => {
    proc = spawnDemo([
      '--address',
      '127.0.0.1',
      '--port',
      '0',
      '--chat-port=-1',
      '--processes',
      '2',
      '--redis',
      redis.url,
    ]);
    await proc.waitFor(/worker 0 \(pid \d+\)[^\n]*http:\/\/127\.0\.0\.1:\d+/);
    const [, port] = (await proc.waitFor(
      /worker 1 \(pid \d+\)[^\n]*http:\/\/127\.0\.0\.1:(\d+)/,
    )) as RegExpMatchArray;
    const base = `http://127.0.0.1:${port}`;
    // New browser profiles until one page came from each worker.
    const pages = new Map<string, Page>();
    for (let i = 0; i < 12 && pages.size < 2; i++) {
      const page = await signIn(base, `user${i}`);
      const worker = (await page.textContent('#served-by')) ?? '';
      if (!pages.has(worker)) pages.set(worker, page);
    }
    expect(pages.size).toBe(2);
    const [first, second] = [...pages.values()] as [Page, Page];
    await post(first, 'hello from one worker');
    await second
      .locator('#inbox .message', { hasText: 'hello from one worker' })
      .waitFor({ timeout: DELIVERY_MS });
    await post(second, 'and back from the other');
    await first
      .locator('#inbox .message', { hasText: 'and back from the other' })
      .waitFor({ timeout: DELIVERY_MS });
    expect(await notReloaded(first)).toBe(true);
    expect(await notReloaded(second)).toBe(true);
    proc.child.kill('SIGTERM');
    expect(await proc.exited).toEqual({ code: 0, signal: null });
  });
});
