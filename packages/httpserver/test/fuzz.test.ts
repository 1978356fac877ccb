/**
 * Property tests: random and mutated bytes never escape as an exception or crash, the server
 * only ever answers with well-formed responses, and how a byte stream is split across reads
 * never changes the answers.
 */
import { Duplex } from 'node:stream';
import { IOStream } from '@tornado-ts/iostream';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { HTTP1ServerConnection, HTTPHeaders, HTTPInputError, HTTPServer } from '../src/index';
import { checkHeadBytes, isValidHost, parseContentLength, parseFields, parseHeaderLines } from '../src/parse';
import { echo, raw, startServer } from './helpers/server';

/** An in-memory connection: feed bytes in, collect what the server writes. */
function serve(chunks: Uint8Array[], endInput: boolean): Promise<string> {
  const written: Buffer[] = [];
  const duplex = new Duplex({
    read() {},
    write(chunk, _enc, cb) {
      written.push(Buffer.from(chunk));
      cb();
    },
  });
  const stream = new IOStream(duplex);
  // The callback adapter of a real HTTPServer, over the in-memory stream.
  const server = new HTTPServer(echo, {
    idleConnectionTimeout: 5,
    maxBodySize: 4096,
    decompressRequest: true,
  });
  const conn = new HTTP1ServerConnection(stream, {
    idleConnectionTimeout: 5,
    maxBodySize: 4096,
    decompress: true,
  });
  conn.startServing(server);
  return (async () => {
    for (const c of chunks) {
      duplex.push(Buffer.from(c));
      await new Promise<void>((r) => setImmediate(r));
    }
    if (endInput) duplex.push(null);
    for (let i = 0; i < 3; i++) await new Promise<void>((r) => setImmediate(r));
    await conn.close();
    return Buffer.concat(written).toString('latin1');
  })();
}

const RESPONSE_HEAD = /^HTTP\/1\.1 [1-5]\d\d [^\r\n]*\r\n(?:[!#$%&'*+\-.^_`|~0-9A-Za-z]+: [^\r\n]*\r\n)*\r\n/;

/** Every response in the output is well formed; returns the statuses. */
function checkResponses(out: string): number[] {
  const codes: number[] = [];
  let rest = out;
  while (rest.length > 0) {
    const m = RESPONSE_HEAD.exec(rest);
    expect(m, `malformed output: ${JSON.stringify(rest.slice(0, 200))}`).not.toBeNull();
    const head = (m as RegExpExecArray)[0];
    codes.push(Number(head.slice(9, 12)));
    rest = rest.slice(head.length);
    const cl = /\r\nContent-Length: (\d+)\r\n/i.exec(head);
    if (cl) rest = rest.slice(Number(cl[1]));
  }
  return codes;
}

const VALID = [
  'GET /a?x=1 HTTP/1.1\r\nHost: h\r\n\r\n',
  'POST /b HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\n\r\nhello',
  'PUT /c HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n3;e=1\r\nabc\r\n0\r\nT: 1\r\n\r\n',
  'GET /d HTTP/1.0\r\nConnection: keep-alive\r\n\r\n',
  'OPTIONS * HTTP/1.1\r\nHost: h\r\nExpect: 100-continue\r\nContent-Length: 1\r\n\r\nz',
];

describe('fuzzing the parser', () => {
  it('survives arbitrary bytes', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.uint8Array({ maxLength: 600 }), { maxLength: 4 }),
        fc.boolean(),
        async (chunks, end) => {
          const out = await serve(chunks, end);
          const codes = checkResponses(out);
          for (const c of codes) expect([400, 408, 413, 414, 431, 501, 505]).toContain(c);
        },
      ),
      { numRuns: 150 },
    );
  });

  it('survives mutated valid requests', async () => {
    const mutation = fc.tuple(
      fc.nat(),
      fc.integer({ min: 0, max: 255 }),
      fc.constantFrom('flip', 'insert', 'delete'),
    );
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.constantFrom(...VALID), { minLength: 1, maxLength: 4 }),
        fc.array(mutation, { minLength: 1, maxLength: 4 }),
        async (reqs, muts) => {
          const bytes = [...Buffer.from(reqs.join(''), 'latin1')];
          for (const [pos, byte, kind] of muts) {
            const i = pos % (bytes.length + 1);
            if (kind === 'flip' && i < bytes.length) bytes[i] = byte;
            else if (kind === 'insert') bytes.splice(i, 0, byte);
            else bytes.splice(i, 1);
          }
          const out = await serve([Uint8Array.from(bytes)], true);
          checkResponses(out);
        },
      ),
      { numRuns: 200 },
    );
  });

  it('answers the same however the bytes are split', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.constantFrom(...VALID.slice(0, 3)), { minLength: 1, maxLength: 5 }),
        fc.array(fc.nat(), { maxLength: 6 }),
        async (reqs, cuts) => {
          const all = Buffer.from(reqs.join(''), 'latin1');
          const points = [...new Set(cuts.map((c) => c % all.length))].sort((a, b) => a - b);
          const chunks: Uint8Array[] = [];
          let prev = 0;
          for (const p of points) {
            chunks.push(all.subarray(prev, p));
            prev = p;
          }
          chunks.push(all.subarray(prev));
          const whole = await serve([all], false);
          const split = await serve(chunks, false);
          const norm = (s: string) => s.replace(/Date: [^\r]+\r\n/g, '');
          expect(norm(split)).toBe(norm(whole));
          expect(checkResponses(whole)).toEqual(reqs.map(() => 200));
        },
      ),
      { numRuns: 100 },
    );
  });

  it('HTTPHeaders.parse only ever throws HTTPInputError', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 200 }), (text) => {
        try {
          const h = HTTPHeaders.parse(text);
          for (const [name] of h) expect(name.length).toBeGreaterThan(0);
        } catch (e) {
          expect(e).toBeInstanceOf(HTTPInputError);
        }
      }),
      { numRuns: 300 },
    );
  });

  it('parseFields agrees with checkHeadBytes + parseHeaderLines', () => {
    const unit = fc.constantFrom(
      ...'aZ0-!~:  \t\t\r\n\r\n\x00\x01\x7f\xe9\xff@"('.split(''),
      'Host',
      'Content-Length',
      'transfer-encoding',
      '\r\n',
      '\r\n',
      ': ',
    );
    const outcome = (f: () => void, h: HTTPHeaders): string => {
      try {
        f();
        return JSON.stringify([...h]);
      } catch (e) {
        expect(e).toBeInstanceOf(HTTPInputError);
        return 'error';
      }
    };
    // mostly well-formed sections: lines of name ":" value, each part drawn from the units above
    const line = fc
      .tuple(
        fc.array(fc.constantFrom('a', 'Z', '0', '-', '!', 'Host', 'Content-Length'), {
          minLength: 1,
          maxLength: 4,
        }),
        fc.array(unit, { maxLength: 6 }),
        fc.constantFrom(':', ': ', ':\t', ' :'),
      )
      .map(
        ([n, v, colon]) =>
          `${n.join('')}${colon}${v.filter((u) => u !== '\r\n' && u !== '\r' && u !== '\n').join('')}`,
      );
    const sections = fc.oneof(
      fc.array(unit, { maxLength: 60 }).map((u) => u.join('')),
      fc.array(line, { minLength: 1, maxLength: 6 }).map((l) => l.join('\r\n')),
    );
    fc.assert(
      fc.property(sections, fc.boolean(), (block, tail) => {
        // the head as the server sees it: the section, maybe followed by the blank line and a body
        const text = tail ? `${block}\r\n\r\nX: y` : block;
        const a = new HTTPHeaders();
        const b = new HTTPHeaders();
        const got = outcome(() => parseFields(text, 0, block.length, a), a);
        const want = outcome(() => {
          checkHeadBytes(block);
          parseHeaderLines(block, 0, block.length, b);
        }, b);
        expect(got).toBe(want);
      }),
      { numRuns: 3000 },
    );
  });

  it('isValidHost agrees with a byte-by-byte reading of the grammar', () => {
    const regName = (c: string) => /[A-Za-z0-9\-._~%!$&'()*+;=]/.test(c);
    const literal = (c: string) => /[0-9:a-fA-F.vV]/.test(c);
    const model = (h: string): boolean => {
      if (h.length === 0) return false;
      let i = 0;
      if (h[0] === '[') {
        const close = h.indexOf(']');
        if (close === -1) return false;
        for (let j = 1; j < close; j++) if (!literal(h[j] as string)) return false;
        i = close + 1;
      } else {
        while (i < h.length && h[i] !== ':') {
          if (!regName(h[i] as string)) return false;
          i++;
        }
      }
      if (i === h.length) return true;
      if (h[i] !== ':') return false;
      for (let j = i + 1; j < h.length; j++) if (!/[0-9]/.test(h[j] as string)) return false;
      return true;
    };
    const unit = fc.constantFrom(..."aZ09.-_~%!$&'()*+;=[]:vVfG ,/@#?\u00e9\n".split(''));
    fc.assert(
      fc.property(fc.array(unit, { maxLength: 16 }), (units) => {
        const h = units.join('');
        expect(isValidHost(h)).toBe(model(h));
      }),
      { numRuns: 3000 },
    );
  });

  it('parseContentLength agrees with the grammar', () => {
    fc.assert(
      fc.property(fc.stringMatching(/^[0-9 ,\t+\-xa]{0,20}$/), (v) => {
        const parts = v.split(',').map((p) => p.replace(/^[ \t]+|[ \t]+$/g, ''));
        const valid = parts.every((p) => /^\d{1,15}$/.test(p)) && new Set(parts.map(Number)).size === 1;
        expect(parseContentLength(v)).toBe(valid ? Number(parts[0]) : -1);
      }),
      { numRuns: 2000 },
    );
  });

  it('a real server survives random bytes over sockets', async () => {
    const s = await startServer();
    try {
      await fc.assert(
        fc.asyncProperty(fc.uint8Array({ minLength: 1, maxLength: 300 }), async (bytes) => {
          const r = await raw(s.port, Buffer.from(bytes), { windowMs: 300, end: true });
          checkResponses(r.data);
        }),
        { numRuns: 25 },
      );
      const ok = await raw(s.port, 'GET /alive HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
      expect(ok.data).toContain('GET /alive 0');
    } finally {
      await s.close();
    }
  });
});
