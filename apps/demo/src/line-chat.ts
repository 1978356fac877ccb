import { appLog, genLog } from '@tornado-ts/ioloop';
import { type IOStream, StreamClosedError, UnsatisfiableReadError } from '@tornado-ts/iostream';
import { TCPServer } from '@tornado-ts/tcpserver';
import { type ChatMessage, cleanName, InvalidMessageError, type MessageStore } from './store';

/** Options of {@link LineChatServer}. */
export interface LineChatOptions {
  /** Longest line accepted, in bytes; a longer one closes the connection (default 4096). */
  maxLineBytes?: number;
  /** Messages replayed to a new client (default 10). */
  replay?: number;
  /** Bytes queued for a client that does not read before it is disconnected (default 1 MiB). */
  maxWriteBufferSize?: number;
}

function two(n: number): string {
  return n < 10 ? `0${n}` : String(n);
}

/** One message as a line of text: `[14:03] ann: hello` (continuation lines indented). */
export function formatLine(message: ChatMessage): string {
  const d = new Date(message.time);
  const parts = [message.body.replace(/\r?\n/g, '\n    ')];
  if (message.image) parts.push(`[image ${message.image}]`);
  return `[${two(d.getHours())}:${two(d.getMinutes())}] ${message.from}: ${parts.filter(Boolean).join(' ')}\n`;
}

const HELP =
  '* commands: /nick NAME (rename), /who (who is here over TCP), /help, /quit. Anything else is posted.\n';

/**
 * The chat over plain TCP, one line per message — built directly on {@link TCPServer} and
 * IOStream, without HTTP: `nc localhost 8889`, type a line, it is posted to the room; every
 * message of the room streams back as a line.
 */
export class LineChatServer extends TCPServer {
  readonly #store: MessageStore;
  readonly #maxLineBytes: number;
  readonly #replay: number;
  readonly #clients = new Map<IOStream, { name: string }>();
  #guests = 0;

  constructor(store: MessageStore, opts: LineChatOptions = {}) {
    // A client that stops reading gets its writes refused past maxWriteBufferSize and is dropped,
    // so it cannot make the process buffer without bound.
    super({
      maxBufferSize: Math.max(64 * 1024, (opts.maxLineBytes ?? 4096) * 4),
      maxWriteBufferSize: opts.maxWriteBufferSize ?? 1024 * 1024,
    });
    this.#store = store;
    this.#maxLineBytes = opts.maxLineBytes ?? 4096;
    this.#replay = opts.replay ?? 10;
  }

  /** How many TCP clients are connected now. */
  get clientCount(): number {
    return this.#clients.size;
  }

  #send(stream: IOStream, text: string): void {
    if (stream.closed()) return;
    stream.write(text).catch((err: Error) => {
      if (!stream.closed()) genLog.warn('line chat: dropping a client: %s', err.message);
      stream.close();
    });
  }

  override async handleStream(stream: IOStream, address: unknown): Promise<void> {
    const client = { name: `tcp-guest-${++this.#guests}` };
    this.#clients.set(stream, client);
    genLog.debug('line chat: %s connected from %j', client.name, address);
    const off = this.#store.subscribe((message) => this.#send(stream, formatLine(message)));
    try {
      this.#send(stream, `* welcome to tornado-ts chat, you are ${client.name}\n${HELP}`);
      for (const message of this.#store.since().slice(-this.#replay)) this.#send(stream, formatLine(message));
      for (;;) {
        const raw = await stream.readUntil('\n', { maxBytes: this.#maxLineBytes });
        const line = raw.toString('utf8').replace(/\r?\n$/, '');
        if (!(await this.#handleLine(stream, client, line))) break;
      }
    } catch (err) {
      if (err instanceof UnsatisfiableReadError) {
        // IOStream has already closed the stream: a line protocol's answer to an endless line.
        genLog.info('line chat: %s sent a line over %d bytes, closed', client.name, this.#maxLineBytes);
      } else if (!(err instanceof StreamClosedError)) {
        appLog.error('line chat: %s', (err as Error).stack ?? err);
      }
    } finally {
      off();
      this.#clients.delete(stream);
      stream.close();
      genLog.debug('line chat: %s left', client.name);
    }
  }

  /** Handles one line; resolves `false` when the client asked to leave. */
  async #handleLine(stream: IOStream, client: { name: string }, line: string): Promise<boolean> {
    const text = line.trim();
    if (text === '') return true;
    if (text === '/quit') {
      await stream.write('* bye\n');
      return false;
    }
    if (text === '/help') {
      this.#send(stream, HELP);
      return true;
    }
    if (text === '/who') {
      this.#send(stream, `* here over TCP: ${[...this.#clients.values()].map((c) => c.name).join(', ')}\n`);
      return true;
    }
    try {
      if (text.startsWith('/nick')) {
        client.name = cleanName(text.slice(5));
        this.#send(stream, `* you are now ${client.name}\n`);
      } else if (text.startsWith('/')) {
        this.#send(stream, `! unknown command ${text.split(/\s/)[0]}\n${HELP}`);
      } else {
        await this.#store.add({ from: client.name, body: text });
      }
    } catch (err) {
      if (!(err instanceof InvalidMessageError)) throw err;
      this.#send(stream, `! ${err.message}\n`);
    }
    return true;
  }

  /** Says goodbye to every connected client and closes them (after {@link TCPServer.stop}). */
  async closeAllClients(reason = 'server shutting down'): Promise<void> {
    await Promise.allSettled(
      [...this.#clients.keys()].map(async (stream) => {
        await stream.write(`* ${reason}\n`).catch(() => {});
        stream.close();
      }),
    );
  }
}
