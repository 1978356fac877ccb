/**
 * Accepting connections: {@link addAcceptHandler} and the per-server bookkeeping that keeps the
 * connections which arrive before a handler is attached.
 *
 * @module
 */
import type { AddressInfo, Server, Socket } from 'node:net';
import { appLog, describeError, genLog } from '@tornado-ts/ioloop';
import { AcceptHandlerExistsError } from './errors';

/**
 * Where an accepted connection comes from. For TCP it is the peer's address, family
 * (`'IPv4'` / `'IPv6'`) and port; for a unix socket the address is `''`, the family `'unix'`
 * and the port `0` (unix peers have no name, as in Tornado).
 */
export type PeerAddress = AddressInfo;

/** Called with every accepted socket and the peer's address. */
export type AcceptCallback = (socket: Socket, address: PeerAddress) => void;

/** The address given for connections on a unix socket. */
const UNIX_PEER: PeerAddress = Object.freeze({ address: '', family: 'unix', port: 0 });

/**
 * How many accepted connections are kept while a server has no accept handler. Past that the
 * oldest are still kept and new ones are closed (and logged): memory stays bounded when nobody
 * ever attaches a handler.
 */
export const MAX_PENDING_CONNECTIONS = 4096;

/** Minimum time between two logged accept errors of one server (seconds). */
const ACCEPT_ERROR_LOG_INTERVAL = 1;

interface AcceptState {
  /** Connections accepted while no handler was attached, in arrival order. */
  pending: Socket[];
  /** The attached handler, or null while connections are queued. */
  handler: ((socket: Socket) => void) | null;
  /** The server was created paused (`pauseOnConnect`) by this package: sockets are resumed on hand-over. */
  pausedByUs: boolean;
  /** `true` for a unix socket server, `false` for TCP, `null` until known. */
  unix: boolean | null;
  lastErrorLog: number;
  suppressedErrors: number;
}

const states = new WeakMap<Server, AcceptState>();

function serverName(server: Server): string {
  const a = server.address();
  if (a === null) return 'server';
  return typeof a === 'string' ? a : `${a.family === 'IPv6' ? `[${a.address}]` : a.address}:${a.port}`;
}

function onServerError(server: Server, state: AcceptState, err: NodeJS.ErrnoException): void {
  // libuv already skips ECONNABORTED; EMFILE/ENFILE/ENOBUFS/ENOMEM land here. libuv sheds the
  // connection it could not accept (its "emfile trick") and keeps listening, so the server
  // serves again as soon as descriptors free up. Log, rate limited: these come in bursts.
  const now = performance.now() / 1000;
  if (now - state.lastErrorLog < ACCEPT_ERROR_LOG_INTERVAL) {
    state.suppressedErrors++;
    return;
  }
  const more = state.suppressedErrors > 0 ? ` (${state.suppressedErrors} more since the last report)` : '';
  state.lastErrorLog = now;
  state.suppressedErrors = 0;
  genLog.error(`Error accepting a connection on ${serverName(server)}: ${err.code ?? err.message}${more}`);
}

function isUnixServer(server: Server): boolean {
  if (typeof server.address() === 'string') return true;
  // A server listening on an inherited descriptor has no path to report: ask its handle.
  return (server as unknown as { _handle?: object | null })._handle?.constructor.name === 'Pipe';
}

function enqueue(server: Server, state: AcceptState, socket: Socket): void {
  if (state.handler !== null) {
    state.handler(socket);
    return;
  }
  if (state.pending.length >= MAX_PENDING_CONNECTIONS) {
    genLog.warn(
      `${serverName(server)} has no accept handler and ${state.pending.length} waiting connections: closing a new one`,
    );
    socket.destroy();
    return;
  }
  // Until a handler owns it, an error on a waiting socket (a reset, say) must not crash the process.
  socket.on('error', whileWaiting);
  state.pending.push(socket);
}

function whileWaiting(this: Socket, err: NodeJS.ErrnoException): void {
  genLog.debug(`a connection waiting for an accept handler failed: ${err.code ?? err.message}`);
}

/** Takes the waiting connections out of the queue, as their new owner gets them. */
function dequeueAll(state: AcceptState): Socket[] {
  const sockets = state.pending.splice(0);
  for (const s of sockets) s.off('error', whileWaiting);
  return sockets;
}

/**
 * Sets up the bookkeeping of `server` (idempotent): one `'connection'` listener that hands
 * sockets to the accept handler or queues them until one is attached, and an `'error'`
 * listener that logs accept errors instead of letting them crash the process.
 * @internal
 */
export function manageServer(server: Server, pausedByUs = false, unix: boolean | null = null): AcceptState {
  let state = states.get(server);
  if (state !== undefined) return state;
  const st: AcceptState = {
    pending: [],
    handler: null,
    pausedByUs,
    unix,
    lastErrorLog: Number.NEGATIVE_INFINITY,
    suppressedErrors: 0,
  };
  state = st;
  states.set(server, st);
  server.on('connection', (socket: Socket) => enqueue(server, st, socket));
  // Only accept errors are ours to log: a listen error stays with whoever called listen()
  // (and crashes an unsuspecting caller as usual), so the listener comes once it listens.
  const watchErrors = (): void => {
    server.on('error', (err: NodeJS.ErrnoException) => onServerError(server, st, err));
  };
  if (server.listening) watchErrors();
  else server.once('listening', watchErrors);
  return st;
}

/**
 * Queues a socket that was accepted elsewhere (a connection the primary accepted before it
 * handed its listening sockets to the workers) as if `server` had accepted it.
 * @internal
 */
export function injectConnection(server: Server, socket: Socket): void {
  enqueue(server, manageServer(server), socket);
}

/**
 * Removes and returns the connections waiting for an accept handler on `server`.
 * @internal
 */
export function takePendingConnections(server: Server): Socket[] {
  const state = states.get(server);
  if (state === undefined) return [];
  return dequeueAll(state);
}

/**
 * Closes `server` and the connections still waiting for an accept handler on it. Connections
 * already handed to a handler are not touched.
 * @internal
 */
export function closeServer(server: Server): void {
  for (const socket of takePendingConnections(server)) socket.destroy();
  if (server.listening) server.close();
}

/**
 * Calls `callback(socket, address)` for every connection `server` accepts, and for the ones it
 * accepted before the handler was attached (servers from {@link bindSockets} keep them).
 * Returns a function that detaches the handler; connections arriving after that wait for the
 * next handler, as they would in the kernel's backlog.
 *
 * Accept errors (`EMFILE`, `ENFILE`, ...) are logged on `tornado.general` and survived: libuv
 * sheds the connection it could not take and the server serves again when descriptors free up.
 * A callback that throws gets its socket destroyed and the error logged on `tornado.application`.
 *
 * One handler per server at a time: a second one throws {@link AcceptHandlerExistsError}.
 *
 * @example
 * ```ts
 * const [server] = await bindSockets(0, '127.0.0.1');
 * const remove = addAcceptHandler(server, (socket, address) => {
 *   socket.end(`hello ${address.address}\n`);
 * });
 * // later: remove(); server.close();
 * ```
 */
export function addAcceptHandler(server: Server, callback: AcceptCallback): () => void {
  const state = manageServer(server);
  if (state.handler !== null) throw new AcceptHandlerExistsError();
  const handler = (socket: Socket): void => {
    let unix = state.unix;
    if (unix === null) unix = state.unix = isUnixServer(server);
    let address: PeerAddress;
    if (unix) {
      address = UNIX_PEER;
    } else {
      const ip = socket.remoteAddress;
      if (ip === undefined) {
        // Reset by the peer before we got to it: nothing to serve.
        socket.destroy();
        return;
      }
      address = { address: ip, family: socket.remoteFamily as string, port: socket.remotePort as number };
    }
    // Servers bound here are created with pauseOnConnect (nothing is read before a handler
    // owns the socket); put the socket in the state of any fresh socket: reading into its
    // buffer, not yet flowing, so the handler can use 'data' or 'readable' and EOF is seen.
    if (state.pausedByUs && socket.readableFlowing === false) {
      (socket as { readableFlowing: boolean | null }).readableFlowing = null;
      socket.read(0);
    }
    try {
      callback(socket, address);
    } catch (err) {
      appLog.error(`Error in accept handler for ${address.address || 'unix socket'}: ${describeError(err)}`);
      socket.destroy();
    }
  };
  state.handler = handler;
  if (state.pending.length > 0) {
    queueMicrotask(() => {
      if (state.handler !== handler) return;
      for (const socket of dequeueAll(state)) {
        if (socket.destroyed) continue;
        handler(socket);
      }
    });
  }
  return () => {
    if (state.handler === handler) state.handler = null;
  };
}
