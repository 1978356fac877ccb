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

/** Resolves on the next turn of the event loop after everything already queued. */
export function nextIteration(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}
