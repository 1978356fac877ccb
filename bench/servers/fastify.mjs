// Fastify 5 with its defaults (no logger), the routes of common.mjs.
import fs from 'node:fs';
import path from 'node:path';
import Fastify from 'fastify';
import { args, fail, HELLO, JSON_BODY, ready } from './common.mjs';

const { port, dataDir } = args();
const app = Fastify({ logger: false, keepAliveTimeout: 120_000 });

app.get('/plaintext', (_req, reply) => {
  reply.type('text/plain').send(HELLO);
});
app.get('/json', (_req, reply) => {
  reply.send(JSON_BODY);
});
app.addContentTypeParser('application/octet-stream', { parseAs: 'buffer' }, (_req, body, done) => {
  done(null, body);
});
app.post('/echo', (req, reply) => {
  reply.type('application/octet-stream').send(req.body);
});
app.get('/static/:file', (req, reply) => {
  const file = path.join(dataDir, path.basename(/** @type {any} */ (req.params).file));
  fs.stat(file, (err, st) => {
    if (err) {
      reply.code(404).send();
      return;
    }
    reply.type('application/octet-stream').header('content-length', st.size).send(fs.createReadStream(file));
  });
  return reply;
});
// The upload route streams: in its own context, no parser buffers the body.
app.register(async (ctx) => {
  ctx.removeAllContentTypeParsers();
  ctx.addContentTypeParser('*', (_req, _payload, done) => done(null));
  ctx.post('/upload', async (req, reply) => {
    let n = 0;
    for await (const chunk of req.raw) n += chunk.length;
    reply.type('text/plain').send(String(n));
  });
});

app.listen({ port, host: '127.0.0.1' }).then(() => ready(port), fail);
