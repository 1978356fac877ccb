/**
 * Tornado's pre-fork model on Node.js: {@link forkProcesses}, {@link taskId}, {@link cpuCount}.
 *
 * Node never forks itself. The primary starts each worker as a new Node.js process running the
 * same main script (`child_process.fork`) and hands it the listening sockets it bound before
 * forking, over the IPC channel (the descriptors travel with `SCM_RIGHTS`, so every worker
 * accepts on the very same kernel sockets). When a worker re-runs `bindSockets(...)` with the
 * arguments the primary used, it gets those sockets back instead of binding again.
 *
 * @module
 */
import { type ChildProcess, fork, spawn } from 'node:child_process';
import { linkSync, renameSync, rmSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { availableParallelism, cpus } from 'node:os';
import { genLog } from '@tornado-ts/ioloop';
import { injectConnection, manageServer, takePendingConnections } from './accept';
import { ForkError, TooManyChildRestartsError } from './errors';

/** Environment variable that tells a process it is worker N of a primary. */
export const TASK_ID_ENV = 'TORNADO_TS_TASK_ID';

/** How long a handshake over the IPC channel may take (seconds). */
const HANDSHAKE_TIMEOUT = 15;

/** A libuv handle object (TCP or Pipe wrap) as `child_process` sends and receives it. */
type RawHandle = object & { readonly fd?: number; close?: (cb?: () => void) => void };

/** The kind of a bound socket set. */
type BoundKind = 'tcp' | 'unix';

interface BoundEntry {
  key: string;
  kind: BoundKind;
  backlog: number;
  servers: Server[];
  path?: string | undefined;
}

/**
 * A set of listening sockets the primary hands to every worker: raw handles that nobody polls in
 * the primary, plus connections the primary accepted before it stopped listening.
 * @internal
 */
export interface DetachedEntry {
  key: string;
  kind: BoundKind;
  /** The socket path of a unix entry. */
  path?: string | undefined;
  backlog: number;
  handles: RawHandle[];
  /** Connections accepted by the primary, per handle index, to be served by a worker. */
  queued: Socket[][];
}

/** Messages of the primary-worker protocol; every one carries `tornadoTs`. */
type ProtocolMessage =
  | { tornadoTs: 'hello' }
  | {
      tornadoTs: 'handle';
      entry: number;
      idx: number;
      key: string;
      kind: BoundKind;
      backlog: number;
      path: string | undefined;
    }
  | { tornadoTs: 'conn'; entry: number; idx: number }
  | { tornadoTs: 'ready' };

function isProtocolMessage(m: unknown): m is ProtocolMessage {
  return typeof m === 'object' && m !== null && typeof (m as { tornadoTs?: unknown }).tornadoTs === 'string';
}

// ---------------------------------------------------------------------------------------------
// cpuCount / taskId

/**
 * The number of processors Node.js may use (`os.availableParallelism()`, which honours CPU
 * affinity), at least 1.
 */
export function cpuCount(): number {
  try {
    const n = typeof availableParallelism === 'function' ? availableParallelism() : cpus().length;
    return n > 0 ? n : 1;
  } catch {
    genLog.error('Could not detect number of processors; assuming 1');
    return 1;
  }
}

/** The IPC channel to the primary: `process` in a real worker. @internal */
export interface PrimaryChannel {
  send(
    message: unknown,
    handle?: undefined,
    options?: undefined,
    callback?: (err: Error | null) => void,
  ): boolean;
  on(event: 'message', listener: (message: unknown, handle: unknown) => void): unknown;
  on(event: 'disconnect', listener: () => void): unknown;
  off(event: 'message', listener: (message: unknown, handle: unknown) => void): unknown;
  off(event: 'disconnect', listener: () => void): unknown;
  readonly channel?: { unref(): void } | null | undefined;
}

interface WorkerInfo {
  taskId: number;
  forked: boolean;
  channel: PrimaryChannel;
  /** What to do when the primary is gone (default: SIGTERM ourselves). */
  onPrimaryGone: () => void;
}

let workerInfo: WorkerInfo | null | undefined;

function stopBecausePrimaryIsGone(): void {
  genLog.warn(`worker ${taskId()} (pid ${process.pid}): the primary process is gone, stopping`);
  process.kill(process.pid, 'SIGTERM');
}

/** This process's worker record, read once from the environment (and removed from it). */
function currentWorker(): WorkerInfo | null {
  if (workerInfo !== undefined) return workerInfo;
  const raw = process.env[TASK_ID_ENV];
  const id = raw === undefined ? Number.NaN : Number(raw);
  if (Number.isInteger(id) && id >= 0 && typeof process.send === 'function') {
    workerInfo = {
      taskId: id,
      forked: false,
      channel: process as unknown as PrimaryChannel,
      onPrimaryGone: stopBecausePrimaryIsGone,
    };
    // Processes this worker starts are not workers of our primary.
    delete process.env[TASK_ID_ENV];
  } else {
    workerInfo = null;
  }
  return workerInfo;
}

// Read (and remove) the task id as soon as the package loads, so that processes this worker
// starts before its first call into this package do not take themselves for workers too.
currentWorker();

/**
 * Makes this process act as worker `id` of the primary at the other end of `channel` (tests run
 * the worker side in-process this way), or, with `null`, forgets all multi-process state.
 * @internal
 */
export function setWorkerState(
  worker: { taskId: number; channel: PrimaryChannel; onPrimaryGone: () => void } | null,
): void {
  workerInfo = worker === null ? undefined : { ...worker, forked: false };
  handshake = null;
  workerKeyCounts.clear();
  primaryForked = false;
}

/**
 * The task id of this process: `0 .. n-1` in a worker started by {@link forkProcesses}, `null`
 * in a process that was not started that way.
 */
export function taskId(): number | null {
  return currentWorker()?.taskId ?? null;
}

// ---------------------------------------------------------------------------------------------
// Primary side: which sockets were bound before forking

const bound: BoundEntry[] = [];
const boundKeyCounts = new Map<string, number>();

/**
 * Records sockets bound in a process that may fork later, so that {@link forkProcesses} can
 * hand them to the workers. The n-th bind with the same arguments gets key `base#n`; the workers
 * replay the same calls and match them by that key.
 * @internal
 */
export function registerBound(
  baseKey: string,
  kind: BoundKind,
  backlog: number,
  servers: Server[],
  path?: string,
) {
  if (currentWorker() !== null) return;
  const n = boundKeyCounts.get(baseKey) ?? 0;
  boundKeyCounts.set(baseKey, n + 1);
  const entry: BoundEntry = { key: `${baseKey}#${n}`, kind, backlog, servers, path };
  bound.push(entry);
  let open = servers.length;
  for (const s of servers) {
    s.once('close', () => {
      if (--open > 0) return;
      const i = bound.indexOf(entry);
      if (i >= 0) bound.splice(i, 1);
    });
  }
}

/** Small program that sends every handle it receives straight back: a `dup()` for the primary. */
const ECHO_PROGRAM = "process.on('message',(m,h)=>{process.send(m,h)})";

/**
 * Copies libuv handles through a short-lived helper process: the copies come back as new
 * descriptors of the same kernel sockets that nothing polls, so the primary can close its
 * listening servers (it must never accept) and still give the sockets to workers it restarts.
 * @internal
 */
export async function duplicateHandles(handles: RawHandle[]): Promise<RawHandle[]> {
  if (handles.length === 0) return [];
  const env = { ...process.env };
  delete env.NODE_OPTIONS;
  delete env[TASK_ID_ENV];
  const helper = spawn(process.execPath, ['-e', ECHO_PROGRAM], {
    stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
    env,
  });
  const exited = new Promise<void>((resolve) => {
    helper.once('exit', () => resolve());
    helper.once('error', () => resolve());
  });
  try {
    return await new Promise<RawHandle[]>((resolve, reject) => {
      const out: RawHandle[] = new Array(handles.length);
      let got = 0;
      const timer = setTimeout(
        () => reject(new ForkError('timed out copying the listening sockets for the workers')),
        HANDSHAKE_TIMEOUT * 1000,
      );
      const fail = (err: Error) => {
        clearTimeout(timer);
        reject(err);
      };
      helper.on('message', (m: unknown, h: unknown) => {
        const i = (m as { i?: unknown } | null)?.i;
        if (typeof i !== 'number' || h === undefined || out[i] !== undefined) return;
        out[i] = h as RawHandle;
        if (++got === handles.length) {
          clearTimeout(timer);
          resolve(out);
        }
      });
      helper.once('error', (err) =>
        fail(new ForkError(`could not copy the listening sockets: ${err.message}`)),
      );
      helper.once('exit', (code, signal) =>
        fail(new ForkError(`the socket-copying helper exited early (${signal ?? code})`)),
      );
      handles.forEach((h, i) => {
        helper.send({ i }, h as never, (err) => {
          if (err) fail(new ForkError(`could not copy the listening sockets: ${err.message}`));
        });
      });
    });
  } finally {
    helper.kill();
    await exited;
  }
}

function handleOf(server: Server): RawHandle {
  return (server as unknown as { _handle: RawHandle })._handle;
}

/**
 * Takes the sockets this process bound (and still listens on) out of its own event loop: copies
 * them, closes the listening servers, and collects the connections they accepted meanwhile.
 * @internal
 */
export async function detachBoundSockets(): Promise<DetachedEntry[]> {
  const live = bound
    .map((e) => ({ ...e, servers: e.servers.filter((s) => s.listening) }))
    .filter((e) => e.servers.length > 0);
  if (live.length === 0) return [];
  const copies = await duplicateHandles(live.flatMap((e) => e.servers.map(handleOf)));
  let next = 0;
  const out: DetachedEntry[] = [];
  for (const e of live) {
    const handles = copies.slice(next, next + e.servers.length);
    next += e.servers.length;
    const queued: Socket[][] = [];
    for (const server of e.servers) {
      queued.push(takePendingConnections(server));
      if (e.kind === 'unix' && e.path !== undefined) {
        // libuv unlinks a unix socket's path when its server closes; keep the path for the
        // workers with a second link that takes its place.
        const spare = `${e.path}.${process.pid}.tornado-ts`;
        rmSync(spare, { force: true });
        linkSync(e.path, spare);
        server.close();
        renameSync(spare, e.path);
      } else {
        server.close();
      }
    }
    out.push({ key: e.key, kind: e.kind, path: e.path, backlog: e.backlog, handles, queued });
  }
  bound.length = 0;
  return out;
}

// ---------------------------------------------------------------------------------------------
// Worker side: receive the primary's sockets

interface InheritedEntry {
  kind: BoundKind;
  path: string | undefined;
  backlog: number;
  handles: RawHandle[];
  queued: Socket[][];
  claimed: boolean;
}

let handshake: Promise<Map<string, InheritedEntry>> | null = null;
const workerKeyCounts = new Map<string, number>();
/** Raw pipe handles whose descriptors back servers created with `listen({ fd })`. */
const adoptedPipes: RawHandle[] = [];

/** Asks the primary for its sockets (once); resolves when all of them arrived. */
function workerHandshake(worker: WorkerInfo): Promise<Map<string, InheritedEntry>> {
  if (handshake !== null) return handshake;
  const ch = worker.channel;
  handshake = new Promise((resolve, reject) => {
    const byIndex = new Map<number, InheritedEntry & { key: string }>();
    const timer = setTimeout(() => {
      ch.off('message', onMessage);
      reject(new ForkError('the primary did not answer the worker handshake'));
    }, HANDSHAKE_TIMEOUT * 1000);
    const onMessage = (m: unknown, h: unknown): void => {
      if (!isProtocolMessage(m)) return;
      if (m.tornadoTs === 'handle') {
        let e = byIndex.get(m.entry);
        if (e === undefined) {
          e = {
            key: m.key,
            kind: m.kind,
            path: m.path,
            backlog: m.backlog,
            handles: [],
            queued: [],
            claimed: false,
          };
          byIndex.set(m.entry, e);
        }
        e.handles[m.idx] = h as RawHandle;
      } else if (m.tornadoTs === 'conn') {
        const e = byIndex.get(m.entry);
        if (e === undefined) (h as Socket).destroy();
        else (e.queued[m.idx] ??= []).push(h as Socket);
      } else if (m.tornadoTs === 'ready') {
        clearTimeout(timer);
        ch.off('message', onMessage);
        // Exit with the primary; the channel itself must not keep this worker alive.
        ch.on('disconnect', worker.onPrimaryGone);
        ch.channel?.unref();
        const byKey = new Map<string, InheritedEntry>();
        for (const e of byIndex.values()) byKey.set(e.key, e);
        resolve(byKey);
      }
    };
    ch.on('message', onMessage);
    ch.send({ tornadoTs: 'hello' });
  });
  return handshake;
}

/**
 * In a worker that has not finished {@link forkProcesses} yet: the servers of the primary's
 * bind call that matches `baseKey` (the n-th call with these arguments), or `null` when the
 * primary made no such call and the caller must bind itself. Elsewhere: `null`.
 * @internal
 */
export async function inheritedServers(baseKey: string): Promise<Server[] | null> {
  const worker = currentWorker();
  if (worker === null || worker.forked) return null;
  const n = workerKeyCounts.get(baseKey) ?? 0;
  workerKeyCounts.set(baseKey, n + 1);
  const entry = (await workerHandshake(worker)).get(`${baseKey}#${n}`);
  if (entry === undefined || entry.claimed) return null;
  entry.claimed = true;
  const servers: Server[] = [];
  for (let idx = 0; idx < entry.handles.length; idx++) {
    const handle = entry.handles[idx] as RawHandle;
    const server = createServer({ pauseOnConnect: true });
    manageServer(server, true, entry.kind === 'unix');
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.once('listening', () => {
        server.off('error', reject);
        resolve();
      });
      if (entry.kind === 'tcp') {
        server.listen(handle as never, entry.backlog);
      } else {
        adoptedPipes.push(handle);
        server.listen({ fd: handle.fd as number, backlog: entry.backlog });
        // So that server.address() reports the path, as it does for the primary's server.
        (server as unknown as { _pipeName?: string })._pipeName = entry.path;
      }
    });
    for (const socket of entry.queued[idx] ?? []) injectConnection(server, socket);
    entry.queued[idx] = [];
    servers.push(server);
  }
  return servers;
}

/** Anything with `send(message, handle, callback)`: a ChildProcess, or `process` in a child. */
interface HandleTarget {
  readonly pid?: number | undefined;
  send(message: unknown, handle?: never, callback?: (err: Error | null) => void): boolean;
}

/**
 * Answers a worker's handshake: sends it every bound socket, the connections the primary
 * accepted early (to the first worker that asks), then `ready`.
 * @internal
 */
export function sendSockets(target: HandleTarget, entries: DetachedEntry[]): void {
  const ignore = (err: Error | null): void => {
    if (err) genLog.debug(`could not send sockets to pid ${target.pid}: ${err.message}`);
  };
  entries.forEach((e, entry) => {
    e.handles.forEach((h, idx) => {
      const m: ProtocolMessage = {
        tornadoTs: 'handle',
        entry,
        idx,
        key: e.key,
        kind: e.kind,
        backlog: e.backlog,
        path: e.path,
      };
      target.send(m, h as never, ignore);
    });
    e.queued.forEach((sockets, idx) => {
      for (const s of sockets.splice(0)) target.send({ tornadoTs: 'conn', entry, idx }, s as never, ignore);
    });
  });
  target.send({ tornadoTs: 'ready' }, undefined, ignore);
}

// ---------------------------------------------------------------------------------------------
// Supervisor: starts, restarts and reaps the workers

/** Options of {@link Supervisor}. @internal */
export interface SupervisorOptions {
  /** How many workers (task ids `0 .. numProcesses-1`). */
  numProcesses: number;
  /** Restarts allowed before giving up with {@link TooManyChildRestartsError}. */
  maxRestarts: number;
  /** The script every worker runs. */
  script: string;
  /** Its arguments. */
  args?: readonly string[];
  /** Node.js flags of the workers. */
  execArgv?: readonly string[];
  /** The workers' environment (default: this process's). */
  env?: NodeJS.ProcessEnv;
  /** The sockets every worker gets. */
  entries?: DetachedEntry[];
  /** `'pipe'` gives the workers' stdout/stderr to the caller (tests); default `'inherit'`. */
  stdio?: 'inherit' | 'pipe';
}

/** How the workers ended: `signal` is the signal that stopped them, `null` when all exited 0. @internal */
export interface SupervisorOutcome {
  signal: NodeJS.Signals | null;
}

/**
 * The primary's part of {@link forkProcesses}: keeps `numProcesses` workers running, restarts
 * a worker that died by a signal or a non-zero exit with the same task id, gives up after
 * `maxRestarts` restarts, and settles once every worker is gone (Node reaps every child).
 * @internal
 */
export class Supervisor {
  readonly #opts: SupervisorOptions;
  readonly #children = new Map<number, ChildProcess>();
  readonly #entries: DetachedEntry[];
  #restarts = 0;
  #stopping: NodeJS.Signals | null = null;
  #failure: TooManyChildRestartsError | null = null;
  #settle: { resolve: (o: SupervisorOutcome) => void; reject: (e: Error) => void } | null = null;
  #done: Promise<SupervisorOutcome> | null = null;
  #killTimer: NodeJS.Timeout | null = null;

  constructor(opts: SupervisorOptions) {
    this.#opts = opts;
    this.#entries = opts.entries ?? [];
  }

  /** How many times a worker was restarted. */
  get restarts(): number {
    return this.#restarts;
  }

  /** The running workers by task id. */
  children(): ReadonlyMap<number, ChildProcess> {
    return this.#children;
  }

  /** Starts the workers; resolves when all of them are gone, rejects when restarts ran out. */
  start(): Promise<SupervisorOutcome> {
    if (this.#done !== null) return this.#done;
    this.#done = new Promise((resolve, reject) => {
      this.#settle = { resolve, reject };
    });
    for (let id = 0; id < this.#opts.numProcesses; id++) this.#spawn(id);
    if (this.#children.size === 0) this.#finish();
    return this.#done;
  }

  /** Sends `signal` to every worker and restarts none from now on. */
  kill(signal: NodeJS.Signals): void {
    if (this.#stopping === null) this.#stopping = signal;
    for (const child of this.#children.values()) child.kill(signal);
    if (this.#children.size === 0 && this.#settle !== null) this.#finish();
  }

  #spawn(id: number): void {
    const o = this.#opts;
    const stdio =
      o.stdio === 'pipe' ? ['ignore', 'pipe', 'pipe', 'ipc'] : ['inherit', 'inherit', 'inherit', 'ipc'];
    const child = fork(o.script, [...(o.args ?? [])], {
      execArgv: [...(o.execArgv ?? [])],
      env: { ...(o.env ?? process.env), [TASK_ID_ENV]: String(id) },
      stdio: stdio as never,
    });
    this.#children.set(id, child);
    child.on('message', (m: unknown) => {
      if (isProtocolMessage(m) && m.tornadoTs === 'hello') this.#sendSockets(child);
    });
    child.on('error', (err) => {
      genLog.debug(`child ${id}: ${err.message}`);
      // A process that could not be started never emits 'exit'.
      if (child.pid === undefined) this.#onExit(id, child, 1, null);
    });
    child.once('exit', (code, signal) => this.#onExit(id, child, code, signal));
  }

  #sendSockets(child: ChildProcess): void {
    sendSockets(child, this.#entries);
  }

  #onExit(id: number, child: ChildProcess, code: number | null, signal: NodeJS.Signals | null): void {
    if (this.#children.get(id) !== child) return;
    this.#children.delete(id);
    const pid = child.pid;
    if (this.#stopping !== null || this.#failure !== null) {
      genLog.info(
        `child ${id} (pid ${pid}) ${signal ? `stopped by ${signal}` : `exited with status ${code}`}`,
      );
    } else if (signal !== null || code !== 0) {
      genLog.warn(
        signal !== null
          ? `child ${id} (pid ${pid}) killed by signal ${signal}, restarting`
          : `child ${id} (pid ${pid}) exited with status ${code}, restarting`,
      );
      this.#restarts++;
      if (this.#restarts > this.#opts.maxRestarts) {
        this.#failure = new TooManyChildRestartsError(this.#restarts - 1);
        genLog.error(`${this.#failure.message} (${this.#opts.maxRestarts} restarts allowed)`);
        for (const c of this.#children.values()) c.kill('SIGTERM');
        // Workers that ignore SIGTERM do not keep a failed primary around forever.
        this.#killTimer = setTimeout(() => {
          for (const c of this.#children.values()) c.kill('SIGKILL');
        }, 10_000);
      } else {
        this.#spawn(id);
      }
    } else {
      genLog.info(`child ${id} (pid ${pid}) exited normally`);
    }
    if (this.#children.size === 0) this.#finish();
  }

  #finish(): void {
    const settle = this.#settle;
    if (settle === null) return;
    this.#settle = null;
    if (this.#killTimer !== null) clearTimeout(this.#killTimer);
    for (const e of this.#entries) {
      for (const h of e.handles) h.close?.();
      for (const list of e.queued) for (const s of list) s.destroy();
    }
    if (this.#failure !== null) settle.reject(this.#failure);
    else settle.resolve({ signal: this.#stopping });
  }
}

// ---------------------------------------------------------------------------------------------
// forkProcesses

let primaryForked = false;

/**
 * The primary's side of {@link forkProcesses} up to the point where it exits: takes the bound
 * sockets out of this process, supervises the workers, passes SIGTERM/SIGINT on to them, and
 * resolves with how they ended.
 * @internal
 */
export async function runPrimary(
  numProcesses: number | null | undefined,
  maxRestarts: number,
  spawn: Pick<SupervisorOptions, 'script' | 'args' | 'execArgv' | 'env' | 'stdio'>,
): Promise<SupervisorOutcome> {
  const n =
    numProcesses !== undefined && numProcesses !== null && numProcesses > 0 ? numProcesses : cpuCount();
  genLog.info(`Starting ${n} processes`);
  const entries = await detachBoundSockets();
  const supervisor = new Supervisor({ ...spawn, numProcesses: n, maxRestarts, entries });
  const forward = (signal: NodeJS.Signals): void => {
    genLog.info(`primary got ${signal}: passing it to the workers`);
    supervisor.kill(signal);
  };
  process.on('SIGTERM', forward);
  process.on('SIGINT', forward);
  try {
    return await supervisor.start();
  } finally {
    process.off('SIGTERM', forward);
    process.off('SIGINT', forward);
  }
}

/**
 * Starts `numProcesses` worker processes (`<= 0` or omitted: one per CPU, {@link cpuCount}) and
 * resolves with the task id (`0 .. n-1`) inside each worker. In the primary the promise never
 * resolves: the primary supervises. It restarts a worker that dies by a signal or exits non-zero,
 * with the same task id, up to `maxRestarts` times (default 100) and then stops the rest and
 * rejects with {@link TooManyChildRestartsError} ("Too many child restarts, giving up"); it
 * passes SIGTERM and SIGINT on to the workers and ends by the same signal after them; it exits 0
 * once every worker exited 0. Every child is reaped.
 *
 * Workers are new Node.js processes running the main script again with the same arguments and
 * Node.js flags (the process is never forked). Sockets bound before the call
 * ({@link bindSockets}, {@link bindUnixSocket}, {@link TCPServer.bind}) are shared: the worker's
 * matching bind call returns them, and all workers accept on them. The primary stops listening
 * on them before the workers start; connections it accepted until then are passed to a worker.
 *
 * @example
 * ```ts
 * const sockets = await bindSockets(8888);
 * const id = await forkProcesses(0);      // in the primary, this never resolves
 * const server = new MyServer();
 * server.addSockets(sockets);             // every worker accepts on port 8888
 * ```
 */
export async function forkProcesses(numProcesses?: number | null, maxRestarts = 100): Promise<number> {
  const worker = currentWorker();
  if (worker !== null) {
    if (worker.forked) throw new ForkError('forkProcesses was already called in this worker');
    const entries = await workerHandshake(worker);
    worker.forked = true;
    for (const e of entries.values()) {
      for (const list of e.queued) for (const s of list.splice(0)) s.destroy();
      if (!e.claimed) for (const h of e.handles) h.close?.();
    }
    return worker.taskId;
  }
  if (primaryForked) throw new ForkError('forkProcesses was already called in this process');
  const script = process.argv[1];
  if (script === undefined || script === '') {
    throw new ForkError('forkProcesses needs a main script to start the workers from (process.argv[1])');
  }
  primaryForked = true;
  const outcome = await runPrimary(numProcesses, maxRestarts, {
    script,
    args: process.argv.slice(2),
    execArgv: process.execArgv,
  });
  if (outcome.signal !== null) process.kill(process.pid, outcome.signal);
  else process.exit(0);
  return new Promise<number>(() => {});
}
