import { describe, expect, it } from 'vitest';
import { parseOptions, UsageError } from '../src/options';

function usageError(argv: string[], cpus = 1): UsageError {
  try {
    parseOptions(argv, cpus);
  } catch (err) {
    return err as UsageError;
  }
  throw new Error(`expected ${argv.join(' ')} to be refused`);
}

describe('command-line flags', () => {
  it('has the documented defaults', () => {
    expect(parseOptions([])).toEqual({
      port: 8888,
      address: '',
      chatPort: 8889,
      processes: 1,
      debug: false,
      cookieSecret: null,
      tlsCert: null,
      tlsKey: null,
      redis: null,
      maxUpload: 2 * 1024 * 1024,
      pollTimeout: 25,
      drainTimeout: 10,
      help: false,
    });
  });

  it('reads every flag, in both --flag value and --flag=value forms', () => {
    const o = parseOptions(
      [
        '--port=9000',
        '--address',
        '127.0.0.1',
        '--chat-port=-1',
        '--processes',
        '2',
        '--debug',
        '--cookie-secret',
        'a-long-enough-secret',
        '--tls-cert',
        'c.pem',
        '--tls-key=k.pem',
        '--redis',
        'redis://127.0.0.1:6379/2',
        '--max-upload',
        '1000',
        '--poll-timeout',
        '0.5',
        '--drain-timeout=3',
      ],
      8,
    );
    expect(o).toMatchObject({
      port: 9000,
      address: '127.0.0.1',
      chatPort: -1,
      processes: 2,
      debug: true,
      cookieSecret: 'a-long-enough-secret',
      tlsCert: 'c.pem',
      tlsKey: 'k.pem',
      redis: 'redis://127.0.0.1:6379/2',
      maxUpload: 1000,
      pollTimeout: 0.5,
      drainTimeout: 3,
    });
    expect(parseOptions(['-h']).help).toBe(true);
  });

  it('refuses several processes without Redis, saying what to do', () => {
    const err = usageError(['--processes', '2']);
    expect(err).toBeInstanceOf(UsageError);
    expect(err.code).toBe('ERR_DEMO_USAGE');
    expect(err.message).toMatch(/--redis/);
    expect(err.message).toMatch(/would not see each other/);
    // 0 means one per CPU: refused on a multi-core machine, fine on a single core.
    expect(usageError(['--processes', '0'], 4).message).toMatch(/starts 4 processes/);
    expect(parseOptions(['--processes', '0'], 1).processes).toBe(0);
    expect(parseOptions(['--processes', '0', '--redis', 'redis://h'], 4).processes).toBe(0);
  });

  it('refuses bad values and unknown flags', () => {
    expect(usageError(['--port', 'http']).message).toMatch(/--port wants an integer/);
    expect(usageError(['--port', '70000']).message).toMatch(/at most 65535/);
    expect(usageError(['--chat-port', '70000']).message).toMatch(/at most 65535/);
    expect(usageError(['--port=-1']).message).toMatch(/at least 0/);
    expect(usageError(['--processes=-2']).message).toMatch(/at least 0/);
    expect(usageError(['--max-upload', '0']).message).toMatch(/at least 1/);
    expect(usageError(['--poll-timeout', 'soon']).message).toMatch(/positive number of seconds/);
    expect(usageError(['--drain-timeout', '']).message).toMatch(/positive number of seconds/);
    expect(usageError(['--redis', 'localhost:6379']).message).toMatch(/redis:\/\//);
    expect(usageError(['--tls-cert', 'c.pem']).message).toMatch(/go together/);
    expect(usageError(['--cookie-secret', 'short']).message).toMatch(/at least 16/);
    expect(usageError(['--colour']).message).toMatch(/colour/);
    expect(usageError(['stray']).message).toMatch(/stray/);
  });
});
