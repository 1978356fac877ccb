import { afterEach, describe, expect, it, vi } from 'vitest';
import { accessLog, appLog, configureLogging, describeError, genLog, resetLogging } from '../src/index';
import { captureLogs } from './helpers';

afterEach(() => {
  resetLogging();
  vi.restoreAllMocks();
  delete process.env.TORNADO_TS_LOG_LEVEL;
});

describe('logging', () => {
  it('is silent by default under vitest', () => {
    const spy = vi.spyOn(console, 'error').mockImplementation(() => {});
    appLog.error('nobody hears this');
    expect(spy).not.toHaveBeenCalled();
    expect(appLog.isEnabledFor('error')).toBe(false);
  });

  it('sends lines to a sink with the message as written and its arguments', () => {
    const { lines, restore } = captureLogs();
    const err = new Error('boom');
    accessLog.info('200 GET / (127.0.0.1) 1.00ms');
    appLog.error('Exception in callback f:', err);
    genLog.warn('bad %s', 'thing');
    genLog.debug('dbg');
    restore();
    expect(lines).toEqual([
      { level: 'info', msg: '200 GET / (127.0.0.1) 1.00ms', args: [] },
      { level: 'error', msg: 'Exception in callback f:', args: [err] },
      { level: 'warn', msg: 'bad %s', args: ['thing'] },
      { level: 'debug', msg: 'dbg', args: [] },
    ]);
    appLog.error('after restore');
    expect(lines).toHaveLength(4);
  });

  it('a sink without a level receives everything', () => {
    const got: string[] = [];
    const push = (m: string) => got.push(m);
    configureLogging({ sink: { debug: push, info: push, warn: push, error: push } });
    genLog.debug('d');
    expect(got).toEqual(['d']);
  });

  it('filters below the level, per channel too', () => {
    const { lines, restore } = captureLogs('warn');
    genLog.info('dropped');
    genLog.warn('kept');
    configureLogging({ channels: { 'tornado.access': 'error', 'tornado.general': 'debug' } });
    accessLog.warn('dropped too');
    accessLog.error('kept too');
    genLog.debug('channel override');
    expect(accessLog.isEnabledFor('warn')).toBe(false);
    expect(genLog.isEnabledFor('debug')).toBe(true);
    restore();
    expect(lines.map((l) => l.msg)).toEqual(['kept', 'kept too', 'channel override']);
  });

  it('writes to the console with Tornado-style prefixes when no sink is set', () => {
    configureLogging({ level: 'debug' });
    const err = vi.spyOn(console, 'error').mockImplementation(() => {});
    const info = vi.spyOn(console, 'info').mockImplementation(() => {});
    const warn = vi.spyOn(console, 'warn').mockImplementation(() => {});
    appLog.error('oops %d', 1);
    accessLog.info('hello');
    genLog.warn('careful');
    expect(err.mock.calls[0]?.[0]).toMatch(/^\[E \d{6} \d\d:\d\d:\d\d tornado\.application\] oops %d$/);
    expect(err.mock.calls[0]?.[1]).toBe(1);
    expect(info.mock.calls[0]?.[0]).toMatch(/^\[I .* tornado\.access\] hello$/);
    expect(warn.mock.calls[0]?.[0]).toMatch(/^\[W .* tornado\.general\] careful$/);
  });

  it('TORNADO_TS_LOG_LEVEL overrides the default', () => {
    process.env.TORNADO_TS_LOG_LEVEL = 'WARN';
    resetLogging();
    expect(genLog.isEnabledFor('warn')).toBe(true);
    expect(genLog.isEnabledFor('info')).toBe(false);
    process.env.TORNADO_TS_LOG_LEVEL = 'nonsense';
    resetLogging();
    expect(genLog.isEnabledFor('error')).toBe(false);
  });

  it('a throwing sink never breaks the caller', () => {
    const bad = () => {
      throw new Error('sink broke');
    };
    configureLogging({ sink: { debug: bad, info: bad, warn: bad, error: bad } });
    expect(() => appLog.error('x')).not.toThrow();
  });

  it('rejects bad configuration', () => {
    expect(() => configureLogging({ level: 'loud' as never })).toThrow(TypeError);
    expect(() => configureLogging({ sink: { info() {} } as never })).toThrow(/debug, info, warn and error/);
    expect(() => configureLogging({ channels: { x: 'nope' as never } })).toThrow(TypeError);
    const restore = configureLogging({ level: 'info', sink: null });
    expect(genLog.isEnabledFor('info')).toBe(true);
    restore();
  });

  it('describeError prints stacks and odd values', () => {
    expect(describeError(new Error('e1'))).toContain('e1');
    const noStack = new Error('e2');
    noStack.stack = undefined;
    expect(describeError(noStack)).toBe('Error: e2');
    expect(describeError(42)).toBe('42');
    expect(describeError(Object.create(null))).toBe('[object Object]');
  });
});
