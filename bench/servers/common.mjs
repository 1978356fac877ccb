// What every contender serves, and how a server script tells the runner it is ready.
//
// Routes (the same on every HTTP contender):
//   GET  /plaintext      200 text/plain "Hello, World!"
//   GET  /json           200 application/json {"message":"Hello, World!"}
//   POST /echo           200 application/octet-stream, the request body
//   GET  /static/<file>  200 the file from the data directory, streamed from disk
//   POST /upload         200 text/plain, the count of body bytes received (the body is streamed and dropped)
//
// argv: <port> <dataDir>

export const HELLO = 'Hello, World!';
export const JSON_BODY = { message: HELLO };

/** @returns {{ port: number, dataDir: string }} */
export function args() {
  const port = Number(process.argv[2]);
  const dataDir = process.argv[3] ?? '';
  if (!Number.isInteger(port) || port <= 0) {
    process.stderr.write('usage: <server> <port> [dataDir]\n');
    process.exit(2);
  }
  return { port, dataDir };
}

/**
 * Prints the line the runner waits for, and exits cleanly on SIGTERM/SIGINT
 * (so `node --cpu-prof` writes its profile).
 * @param {number} port
 */
export function ready(port) {
  process.on('SIGTERM', () => process.exit(0));
  process.on('SIGINT', () => process.exit(0));
  process.stdout.write(`listening ${port}\n`);
}

/**
 * Reports a start-up failure (the runner shows it as the reason the contender is not available).
 * @param {unknown} err
 */
export function fail(err) {
  const e = /** @type {any} */ (err);
  process.stderr.write(`${e?.code ? `${e.code}: ` : ''}${e?.message ?? String(err)}\n`);
  process.exit(1);
}
