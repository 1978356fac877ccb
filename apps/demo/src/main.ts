#!/usr/bin/env node
/**
 * `npm start -- [flags]`: the tornado-ts chat demo. See `--help` and the README.
 * @module
 */
import { appLog, configureLogging, describeError } from '@tornado-ts/ioloop';
import { cpuCount, taskId } from '@tornado-ts/tcpserver';
import { parseOptions, USAGE, UsageError } from './options';
import { runDemo } from './server';

async function main(argv: string[]): Promise<void> {
  let opts: ReturnType<typeof parseOptions>;
  try {
    opts = parseOptions(argv, cpuCount());
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    process.stderr.write(`error: ${err.message}\n\n${USAGE}`);
    process.exitCode = 2;
    return;
  }
  if (opts.help) {
    process.stdout.write(USAGE);
    return;
  }
  if (!process.env.TORNADO_TS_LOG_LEVEL) configureLogging({ level: opts.debug ? 'debug' : 'info' });
  if (opts.processes !== 1 && taskId() === null) {
    // The primary: forkProcesses passes SIGTERM/SIGINT on to the workers, which drain and exit 0,
    // then raises the signal again on itself. Answering that second one with exit 0 makes a
    // drained multi-process demo exit 0, like a single process does.
    let signals = 0;
    const onSignal = () => {
      if (++signals > 1) process.exit(0);
    };
    process.on('SIGTERM', onSignal);
    process.on('SIGINT', onSignal);
  }
  const demo = await runDemo(opts);
  let draining = false;
  const drain = (signal: string) => {
    if (draining) {
      appLog.info('%s: already draining', signal);
      return;
    }
    draining = true;
    appLog.info('%s: draining before exit', signal);
    demo.shutdown().then(
      () => process.exit(0),
      (err: unknown) => {
        appLog.error('shutdown failed: %s', describeError(err));
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', () => drain('SIGTERM'));
  process.on('SIGINT', () => drain('SIGINT'));
}

main(process.argv.slice(2)).catch((err: unknown) => {
  appLog.error('the demo could not start: %s', describeError(err));
  process.exit(1);
});
