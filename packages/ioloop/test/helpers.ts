import { afterEach, beforeEach } from 'vitest';
import { IOLoop } from '../src/ioloop';
import { configureLogging, type LogLevel } from '../src/log';

export interface Captured {
  level: Exclude<LogLevel, 'silent'>;
  msg: string;
  args: unknown[];
}

/** Captures every log line until the returned `restore()` is called. */
export function captureLogs(level: LogLevel = 'debug'): { lines: Captured[]; restore: () => void } {
  const lines: Captured[] = [];
  const mk =
    (l: Captured['level']) =>
    (msg: string, ...args: unknown[]) =>
      lines.push({ level: l, msg, args });
  const restore = configureLogging({
    level,
    sink: { debug: mk('debug'), info: mk('info'), warn: mk('warn'), error: mk('error') },
  });
  return { lines, restore };
}

/**
 * Gives every test of the file a fresh IOLoop, made current before it and closed after it.
 * `onLoop` receives each new loop (to keep it in a variable the tests use).
 */
export function freshLoopPerTest(onLoop?: (loop: IOLoop) => void): void {
  let loop: IOLoop;
  beforeEach(() => {
    loop = new IOLoop();
    loop.makeCurrent();
    onLoop?.(loop);
  });
  afterEach(() => {
    loop.close();
    IOLoop.clearCurrent();
  });
}

/** Resolves on the next turn of the event loop after everything already queued. */
export function nextIteration(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/**
 * Bundles the package sources into one ESM file (esbuild comes with tsup) so that a child process
 * or a worker thread, which cannot run TypeScript, can import them. Returns the file's path and a
 * cleanup function.
 */
export async function bundleSources(): Promise<{ file: string; cleanup: () => void }> {
  const { buildSync } = await import('esbuild');
  const { mkdtempSync, rmSync } = await import('node:fs');
  const { tmpdir } = await import('node:os');
  const { join } = await import('node:path');
  const { fileURLToPath } = await import('node:url');
  const dir = mkdtempSync(join(tmpdir(), 'ioloop-bundle-'));
  const file = join(dir, 'ioloop.mjs');
  buildSync({
    entryPoints: [fileURLToPath(new URL('../src/index.ts', import.meta.url))],
    bundle: true,
    platform: 'node',
    format: 'esm',
    outfile: file,
    logLevel: 'silent',
  });
  return { file, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}
