import { bindSockets } from '@tornado-ts/tcpserver';
import { type DemoOptions, parseOptions } from '../../src/options';
import { type RunningDemo, serveDemo } from '../../src/server';
import type { MessageStore } from '../../src/store';

/** Options for an in-process demo on loopback, free ports, fast timeouts. */
export function testOptions(overrides: Partial<DemoOptions> = {}): DemoOptions {
  return {
    ...parseOptions([]),
    port: 0,
    address: '127.0.0.1',
    chatPort: 0,
    cookieSecret: 'test-secret-test-secret',
    pollTimeout: 5,
    drainTimeout: 5,
    ...overrides,
  };
}

/** Serves the demo in this process (so coverage sees it) on free loopback ports. */
export async function startDemo(
  overrides: Partial<DemoOptions> = {},
  extra: { store?: MessageStore } = {},
): Promise<RunningDemo & { base: string }> {
  const opts = testOptions(overrides);
  const http = await bindSockets(0, '127.0.0.1');
  const chat = opts.chatPort >= 0 ? await bindSockets(0, '127.0.0.1') : [];
  const demo = await serveDemo(opts, { http, chat }, extra);
  const scheme = opts.tlsCert ? 'https' : 'http';
  return { ...demo, base: `${scheme}://127.0.0.1:${demo.httpPort}` };
}
