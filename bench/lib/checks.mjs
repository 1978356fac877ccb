// Before a contender is measured in a scenario, it must answer that scenario's request correctly
// over a real socket. A contender that does not is reported as not available there, never measured.
import http from 'node:http';
import net from 'node:net';

const HELLO = 'Hello, World!';

/**
 * @param {number} port
 * @param {{ method?: string, path: string, body?: Buffer, headers?: Record<string, string> }} req
 * @returns {Promise<{ status: number, headers: http.IncomingHttpHeaders, body: Buffer }>}
 */
export function request(port, req) {
  return new Promise((resolve, reject) => {
    const r = http.request(
      {
        host: '127.0.0.1',
        port,
        method: req.method ?? 'GET',
        path: req.path,
        headers: { ...(req.body ? { 'Content-Length': String(req.body.length) } : {}), ...req.headers },
        agent: false,
        timeout: 5000,
      },
      (res) => {
        /** @type {Buffer[]} */
        const chunks = [];
        res.on('data', (c) => chunks.push(c));
        res.on('end', () =>
          resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }),
        );
        res.on('error', reject);
      },
    );
    r.on('timeout', () => r.destroy(new Error(`no answer to ${req.method ?? 'GET'} ${req.path} within 5 s`)));
    r.on('error', reject);
    r.end(req.body);
  });
}

/**
 * Writes raw bytes and collects the answer until `until(received)` holds or the server closes.
 * @param {number} port
 * @param {string} data
 * @param {(received: string) => boolean} until
 * @returns {Promise<{ received: string, closed: boolean }>}
 */
function raw(port, data, until) {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1');
    let received = '';
    let settled = false;
    const timer = setTimeout(() => {
      settled = true;
      socket.destroy();
      reject(new Error(`no complete answer within 5 s (got ${JSON.stringify(received.slice(0, 200))})`));
    }, 5000);
    socket.on('connect', () => socket.write(data));
    socket.on('data', (d) => {
      received += d.toString('latin1');
      if (!settled && until(received)) {
        settled = true;
        clearTimeout(timer);
        socket.destroy();
        resolve({ received, closed: false });
      }
    });
    socket.on('error', (err) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      reject(err);
    });
    socket.on('close', () => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      resolve({ received, closed: true });
    });
  });
}

/** @param {string} haystack @param {string} needle */
function occurrences(haystack, needle) {
  let n = 0;
  for (let i = haystack.indexOf(needle); i >= 0; i = haystack.indexOf(needle, i + needle.length)) n++;
  return n;
}

/**
 * Checks one scenario's request against a server. Resolves when the answer is right, rejects
 * with what was wrong.
 * @param {number} port
 * @param {'plaintext' | 'pipelined' | 'json' | 'echo' | 'close' | 'download' | 'upload'} kind
 * @param {{ file?: string, size?: number }} [extra]
 */
export async function check(port, kind, extra = {}) {
  /** @param {boolean} ok @param {string} what */
  const expect = (ok, what) => {
    if (!ok) throw new Error(what);
  };
  switch (kind) {
    case 'plaintext': {
      const r = await request(port, { path: '/plaintext' });
      expect(
        r.status === 200 && r.body.toString() === HELLO,
        `GET /plaintext → ${r.status} ${JSON.stringify(r.body.toString().slice(0, 80))}`,
      );
      return;
    }
    case 'pipelined': {
      const one = 'GET /plaintext HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n';
      const { received } = await raw(port, one.repeat(3), (s) => occurrences(s, HELLO) >= 3);
      expect(
        occurrences(received, 'HTTP/1.1 200 ') === 3,
        `3 pipelined requests → ${JSON.stringify(received.slice(0, 200))}`,
      );
      return;
    }
    case 'json': {
      const r = await request(port, { path: '/json' });
      let parsed;
      try {
        parsed = JSON.parse(r.body.toString());
      } catch {
        parsed = null;
      }
      expect(
        r.status === 200 && parsed?.message === HELLO,
        `GET /json → ${r.status} ${JSON.stringify(r.body.toString().slice(0, 80))}`,
      );
      expect(
        String(r.headers['content-type']).startsWith('application/json'),
        `GET /json Content-Type ${r.headers['content-type']}`,
      );
      return;
    }
    case 'echo': {
      const body = Buffer.alloc(1024, 'x');
      const r = await request(port, {
        method: 'POST',
        path: '/echo',
        body,
        headers: { 'Content-Type': 'application/octet-stream' },
      });
      expect(
        r.status === 200 && r.body.equals(body),
        `POST /echo (1 KB) → ${r.status}, ${r.body.length} bytes back`,
      );
      return;
    }
    case 'close': {
      const req = 'GET /plaintext HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n';
      const { received, closed } = await raw(port, req, () => false);
      expect(
        closed && received.startsWith('HTTP/1.1 200 ') && received.endsWith(HELLO),
        `Connection: close → ${JSON.stringify(received.slice(0, 120))}, closed: ${closed}`,
      );
      return;
    }
    case 'download': {
      const { status, length } = await new Promise((resolve, reject) => {
        const r = http.get(
          { host: '127.0.0.1', port, path: `/static/${extra.file}`, agent: false, timeout: 120_000 },
          (res) => {
            resolve({ status: res.statusCode, length: res.headers['content-length'] });
            res.destroy();
          },
        );
        r.on('timeout', () =>
          r.destroy(
            new Error('no answer within 120 s (a static handler may hash the whole file for its ETag first)'),
          ),
        );
        r.on('error', reject);
      });
      expect(
        status === 200 && Number(length) === extra.size,
        `GET /static/${extra.file} → ${status}, Content-Length ${length}`,
      );
      return;
    }
    case 'upload': {
      const body = Buffer.alloc(100_000, 'u');
      const r = await request(port, {
        method: 'POST',
        path: '/upload',
        body,
        headers: { 'Content-Type': 'application/octet-stream' },
      });
      expect(
        r.status === 200 && r.body.toString() === String(body.length),
        `POST /upload (100 kB) → ${r.status} ${JSON.stringify(r.body.toString().slice(0, 80))}`,
      );
      return;
    }
  }
}
