import { linkSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import * as net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { addAcceptHandler, bindUnixSocket, NotASocketError } from '../src/index';
import { closeServer } from './helpers/net';

let dir = '';
const open: net.Server[] = [];

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'tcpserver-unix-'));
});

afterEach(async () => {
  await Promise.all(open.splice(0).map(closeServer));
  rmSync(dir, { recursive: true, force: true });
});

function request(path: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const sock = net.connect(path);
    let out = '';
    sock.on('data', (d) => (out += d.toString()));
    sock.once('error', reject);
    sock.once('close', () => resolve(out));
  });
}

describe('bindUnixSocket', () => {
  it('listens on a path with mode 0600 by default and serves with a unix peer address', async () => {
    const path = join(dir, 'a.sock');
    const s = await bindUnixSocket(path);
    open.push(s);
    expect(statSync(path).isSocket()).toBe(true);
    expect(statSync(path).mode & 0o777).toBe(0o600);
    addAcceptHandler(s, (sock, address) => sock.end(JSON.stringify(address)));
    expect(JSON.parse(await request(path))).toEqual({ address: '', family: 'unix', port: 0 });
  });

  it('applies the mode it is given', async () => {
    const path = join(dir, 'b.sock');
    const s = await bindUnixSocket(path, { mode: 0o660, backlog: 16 });
    open.push(s);
    expect(statSync(path).mode & 0o777).toBe(0o660);
  });

  it('replaces a stale socket file', async () => {
    const path = join(dir, 'stale.sock');
    const old = net.createServer();
    await new Promise<void>((r) => old.listen(path, r));
    // Keep a second name for the socket file: closing unlinks `path`, the link stays behind, stale.
    linkSync(path, `${path}.keep`);
    await closeServer(old);
    linkSync(`${path}.keep`, path);
    expect(statSync(path).isSocket()).toBe(true);
    const s = await bindUnixSocket(path);
    open.push(s);
    addAcceptHandler(s, (sock) => sock.end('fresh'));
    expect(await request(path)).toBe('fresh');
  });

  it('refuses to remove a file that is not a socket', async () => {
    const path = join(dir, 'precious.txt');
    writeFileSync(path, 'keep me');
    const err = await bindUnixSocket(path).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(NotASocketError);
    expect(err).toMatchObject({
      code: 'ERR_NOT_A_SOCKET',
      path,
      message: `File ${path} exists and is not a socket`,
    });
    expect(readFileSync(path, 'utf8')).toBe('keep me');
  });

  it('rejects a bad path, mode or backlog before touching the file system', async () => {
    const path = join(dir, 'bad.sock');
    await expect(bindUnixSocket('')).rejects.toThrow(TypeError);
    await expect(bindUnixSocket(path, { mode: 0o10000 })).rejects.toThrow(/mode must be/);
    await expect(bindUnixSocket(path, { mode: -1 })).rejects.toThrow(/mode must be/);
    await expect(bindUnixSocket(path, { backlog: -5 })).rejects.toThrow(/backlog must be/);
    expect(() => statSync(path)).toThrow(/ENOENT/);
  });

  it('passes other lstat and listen errors on', async () => {
    await expect(bindUnixSocket(join(dir, 'missing-dir', 'x.sock'))).rejects.toMatchObject({
      syscall: 'listen',
    });
  });
});
