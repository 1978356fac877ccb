// node:http, the baseline every ratio is taken against. Written the way a Node user would:
// res.end for small bodies, fs streams for files, the request stream for uploads.
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { args, fail, HELLO, JSON_BODY, ready } from './common.mjs';

const { port, dataDir } = args();

const server = http.createServer((req, res) => {
  const url = req.url ?? '/';
  if (req.method === 'GET' && url === '/plaintext') {
    res.writeHead(200, { 'Content-Type': 'text/plain', 'Content-Length': HELLO.length });
    res.end(HELLO);
  } else if (req.method === 'GET' && url === '/json') {
    const body = JSON.stringify(JSON_BODY);
    res.writeHead(200, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body) });
    res.end(body);
  } else if (req.method === 'POST' && url === '/echo') {
    /** @type {Buffer[]} */
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      res.writeHead(200, { 'Content-Type': 'application/octet-stream', 'Content-Length': body.length });
      res.end(body);
    });
  } else if (req.method === 'POST' && url === '/upload') {
    let n = 0;
    req.on('data', (c) => {
      n += c.length;
    });
    req.on('end', () => {
      const body = String(n);
      res.writeHead(200, { 'Content-Type': 'text/plain', 'Content-Length': body.length });
      res.end(body);
    });
  } else if (req.method === 'GET' && url.startsWith('/static/')) {
    const file = path.join(dataDir, path.basename(url.slice('/static/'.length)));
    fs.stat(file, (err, st) => {
      if (err) {
        res.writeHead(404).end();
        return;
      }
      res.writeHead(200, { 'Content-Type': 'application/octet-stream', 'Content-Length': st.size });
      fs.createReadStream(file).pipe(res);
    });
  } else {
    res.writeHead(404).end();
  }
});
// Idle keep-alive connections must outlive the idle scenario (the default is 5 s).
server.keepAliveTimeout = 120_000;
server.on('error', fail);
server.listen(port, '127.0.0.1', () => ready(port));
