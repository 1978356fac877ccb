import { parseArgs } from 'node:util';

/** Everything the demo can be told on its command line. */
export interface DemoOptions {
  /** HTTP port (default 8888; 0 picks a free one). */
  port: number;
  /** Address to listen on; empty means every interface. */
  address: string;
  /** Port of the line-based TCP chat (default 8889; -1 turns it off; 0 picks a free one). */
  chatPort: number;
  /** Serving processes: 1 (default) serves in this process, 0 means one per CPU. */
  processes: number;
  /** Tornado's debug mode: templates re-read, tracebacks served, static files not cached. */
  debug: boolean;
  /** Secret for signed cookies and xsrf tokens; generated once per start when absent. */
  cookieSecret: string | null;
  /** PEM certificate and key files for HTTPS. */
  tlsCert: string | null;
  tlsKey: string | null;
  /** `redis://` URL of the shared store; without it the room lives in memory. */
  redis: string | null;
  /** Largest image upload in bytes (default 2 MiB). */
  maxUpload: number;
  /** Seconds a long poll waits before answering with no messages (default 25). */
  pollTimeout: number;
  /** Seconds SIGTERM waits for in-flight requests before closing connections (default 10). */
  drainTimeout: number;
  /** Print the usage and exit. */
  help: boolean;
}

/** Thrown for flags the demo cannot run with; the message says what to do instead. */
export class UsageError extends Error {
  override readonly name = 'UsageError';
  readonly code = 'ERR_DEMO_USAGE';
}

/** The `--help` text. */
export const USAGE = `Usage: npm start -- [flags]

  --port N            HTTP port (default 8888)
  --address ADDR      listen address (default: every interface)
  --chat-port N       line-based TCP chat port, e.g. \`nc localhost 8889\` (default 8889; --chat-port=-1: off)
  --processes N       serving processes, pre-forked; 0 = one per CPU (default 1); N > 1 needs --redis
  --debug             debug mode: templates reloaded, tracebacks shown, debug logging
  --cookie-secret S   secret for signed cookies and xsrf tokens (default: generated at start)
  --tls-cert FILE     PEM certificate: serve HTTPS (needs --tls-key)
  --tls-key FILE      PEM private key
  --redis URL         keep the room in Redis (redis://host:port/db): many processes, one room
  --max-upload BYTES  largest image upload (default 2097152)
  --poll-timeout S    seconds a long poll waits (default 25)
  --drain-timeout S   seconds SIGTERM waits for in-flight requests (default 10)
  --help              this text
`;

function integer(flag: string, value: string | undefined, dflt: number, min: number): number {
  if (value === undefined) return dflt;
  if (!/^-?\d+$/.test(value.trim())) throw new UsageError(`--${flag} wants an integer, got "${value}"`);
  const n = Number(value);
  if (n < min) throw new UsageError(`--${flag} must be at least ${min}, got ${n}`);
  return n;
}

function seconds(flag: string, value: string | undefined, dflt: number): number {
  if (value === undefined) return dflt;
  const n = Number(value);
  if (value.trim() === '' || !Number.isFinite(n) || n <= 0) {
    throw new UsageError(`--${flag} wants a positive number of seconds, got "${value}"`);
  }
  return n;
}

/**
 * Parses the demo's flags (`--port 8888` and `--port=8888` both work).
 * @param cpuCount used to resolve `--processes 0`.
 * @throws UsageError for an unknown flag, a bad value, or a combination that cannot work.
 */
export function parseOptions(argv: string[], cpuCount = 1): DemoOptions {
  let values: Record<string, string | boolean | undefined>;
  try {
    ({ values } = parseArgs({
      args: argv,
      strict: true,
      allowPositionals: false,
      options: {
        port: { type: 'string' },
        address: { type: 'string' },
        'chat-port': { type: 'string' },
        processes: { type: 'string' },
        debug: { type: 'boolean' },
        'cookie-secret': { type: 'string' },
        'tls-cert': { type: 'string' },
        'tls-key': { type: 'string' },
        redis: { type: 'string' },
        'max-upload': { type: 'string' },
        'poll-timeout': { type: 'string' },
        'drain-timeout': { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
    }));
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  const str = (name: string) => values[name] as string | undefined;
  const port = integer('port', str('port'), 8888, 0);
  if (port > 65535) throw new UsageError(`--port must be at most 65535, got ${port}`);
  const chatPort = integer('chat-port', str('chat-port'), 8889, -1);
  if (chatPort > 65535) throw new UsageError(`--chat-port must be at most 65535, got ${chatPort}`);
  const processes = integer('processes', str('processes'), 1, 0);
  const redis = str('redis') ?? null;
  if (redis !== null && !/^rediss?:\/\//.test(redis)) {
    throw new UsageError(`--redis wants a redis:// or rediss:// URL, got "${redis}"`);
  }
  const effective = processes === 0 ? cpuCount : processes;
  if (effective > 1 && redis === null) {
    throw new UsageError(
      `--processes ${processes} starts ${effective} processes, but without --redis each would hold its own ` +
        'room and users on different processes would not see each other. Add --redis redis://127.0.0.1:6379 ' +
        '(or run with --processes 1).',
    );
  }
  const tlsCert = str('tls-cert') ?? null;
  const tlsKey = str('tls-key') ?? null;
  if ((tlsCert === null) !== (tlsKey === null)) {
    throw new UsageError('--tls-cert and --tls-key go together: give both to serve HTTPS');
  }
  const cookieSecret = str('cookie-secret') ?? null;
  if (cookieSecret !== null && cookieSecret.length < 16) {
    throw new UsageError('--cookie-secret must be at least 16 characters');
  }
  return {
    port,
    address: str('address') ?? '',
    chatPort,
    processes,
    debug: values.debug === true,
    cookieSecret,
    tlsCert,
    tlsKey,
    redis,
    maxUpload: integer('max-upload', str('max-upload'), 2 * 1024 * 1024, 1),
    pollTimeout: seconds('poll-timeout', str('poll-timeout'), 25),
    drainTimeout: seconds('drain-timeout', str('drain-timeout'), 10),
    help: values.help === true,
  };
}
