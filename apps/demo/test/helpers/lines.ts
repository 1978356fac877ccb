import { connect, type Socket } from 'node:net';

/** A raw TCP client that reads the server's output line by line. */
export class LineClient {
  readonly socket: Socket;
  readonly lines: string[] = [];
  #buffer = '';
  #waiters: { test: (line: string) => boolean; resolve: (line: string) => void }[] = [];
  #closed: Promise<void>;

  private constructor(socket: Socket) {
    this.socket = socket;
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => {
      this.#buffer += chunk;
      let nl = this.#buffer.indexOf('\n');
      while (nl >= 0) {
        const line = this.#buffer.slice(0, nl);
        this.#buffer = this.#buffer.slice(nl + 1);
        this.lines.push(line);
        this.#waiters = this.#waiters.filter((w) => {
          if (!w.test(line)) return true;
          w.resolve(line);
          return false;
        });
        nl = this.#buffer.indexOf('\n');
      }
    });
    this.#closed = new Promise((resolve) => socket.once('close', () => resolve()));
    socket.on('error', () => {});
  }

  static connect(port: number, host = '127.0.0.1'): Promise<LineClient> {
    return new Promise((resolve, reject) => {
      const socket = connect(port, host, () => {
        socket.off('error', reject);
        resolve(new LineClient(socket));
      });
      socket.once('error', reject);
    });
  }

  /** The first line (already received or still to come) that matches. */
  waitFor(test: string | RegExp | ((line: string) => boolean)): Promise<string> {
    const fn =
      typeof test === 'function'
        ? test
        : typeof test === 'string'
          ? (l: string) => l.includes(test)
          : (l: string) => test.test(l);
    const seen = this.lines.find(fn);
    if (seen !== undefined) return Promise.resolve(seen);
    return new Promise((resolve) => this.#waiters.push({ test: fn, resolve }));
  }

  send(line: string): void {
    this.socket.write(`${line}\n`);
  }

  /** Resolves when the server closed the connection (or it was destroyed). */
  closed(): Promise<void> {
    return this.#closed;
  }

  destroy(): Promise<void> {
    this.socket.destroy();
    return this.#closed;
  }
}
