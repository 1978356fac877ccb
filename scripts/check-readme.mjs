#!/usr/bin/env node
// Runs every ```ts example of the root README.md against the built packages, as a user would
// copy it: examples that finish must exit 0 and print what they promise; server examples must
// answer a real client on the port they name, then they are stopped. Part of `npm test`.
import { spawn } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { transform } from 'esbuild';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const work = join(root, 'node_modules', '.cache', 'readme-examples');
mkdirSync(work, { recursive: true });

/** What each example, in README order, must do. */
const checks = [
  { name: 'ioloop', exits: true, stdout: /a b c/ },
  { name: 'iostream', exits: true, stdout: /X-Layer: iostream[\s\S]*hello/ },
  { name: 'tcpserver', port: 8000, probe: echoProbe },
  { name: 'httpserver', port: 8888, probe: httpProbe('/seed', /You requested GET \/seed/) },
  { name: 'web', port: 8888, probe: httpProbe('/', /^Hello, world$/) },
];

const readme = readFileSync(join(root, 'README.md'), 'utf8');
const blocks = [...readme.matchAll(/```ts\n([\s\S]*?)```/g)].map((m) => m[1]);
if (blocks.length !== checks.length) {
  fail(
    `README.md has ${blocks.length} ts examples, the checker knows ${checks.length}: update both together`,
  );
}

let failures = 0;
for (const [i, check] of checks.entries()) {
  const file = join(work, `${i}-${check.name}.mjs`);
  const { code } = await transform(blocks[i], { loader: 'ts', format: 'esm', target: 'node20' });
  writeFileSync(file, code);
  try {
    await (check.exits ? runToExit(file, check) : runServer(file, check));
    console.log(`ok   README example: ${check.name}`);
  } catch (err) {
    failures++;
    console.error(`FAIL README example: ${check.name}: ${err.message}`);
  }
}
console.log(`${checks.length - failures} passed, ${failures} failed`);
process.exit(failures ? 1 : 0);

function start(file) {
  const child = spawn(process.execPath, [file], {
    cwd: root,
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  let out = '';
  child.stdout.on('data', (d) => (out += d));
  child.stderr.on('data', (d) => (out += d));
  return { child, output: () => out };
}

function runToExit(file, check) {
  const { child, output } = start(file);
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      process.kill(-child.pid, 'SIGKILL');
      reject(new Error(`did not exit within 15 s; output:\n${output()}`));
    }, 15_000);
    child.on('exit', (code) => {
      clearTimeout(timer);
      if (code !== 0) reject(new Error(`exit code ${code}; output:\n${output()}`));
      else if (!check.stdout.test(output())) reject(new Error(`unexpected output:\n${output()}`));
      else resolve();
    });
  });
}

async function runServer(file, check) {
  const { child, output } = start(file);
  const exited = new Promise((resolve) => child.on('exit', resolve));
  try {
    const deadline = Date.now() + 20_000;
    for (;;) {
      try {
        await check.probe(check.port);
        return;
      } catch (err) {
        if (child.exitCode !== null) throw new Error(`exited with ${child.exitCode}; output:\n${output()}`);
        if (Date.now() > deadline) throw new Error(`${err.message}; output:\n${output()}`);
        await new Promise((r) => setTimeout(r, 100));
      }
    }
  } finally {
    try {
      process.kill(-child.pid, 'SIGTERM');
    } catch {}
    const killer = setTimeout(() => {
      try {
        process.kill(-child.pid, 'SIGKILL');
      } catch {}
    }, 5_000);
    await exited;
    clearTimeout(killer);
  }
}

function echoProbe(port) {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    let got = '';
    socket.setTimeout(2_000, () => socket.destroy(new Error('no echo within 2 s')));
    socket.on('connect', () => socket.write('hello, echo\n'));
    socket.on('data', (d) => {
      got += d;
      if (got === 'hello, echo\n') {
        socket.end();
        resolve();
      }
    });
    socket.on('error', reject);
    socket.on('close', () => reject(new Error(`echo answered ${JSON.stringify(got)}`)));
  });
}

function httpProbe(path, expected) {
  return async (port) => {
    const res = await fetch(`http://127.0.0.1:${port}${path}`, { signal: AbortSignal.timeout(2_000) });
    const text = await res.text();
    if (res.status !== 200 || !expected.test(text))
      throw new Error(`got ${res.status} ${JSON.stringify(text)}`);
  };
}

function fail(msg) {
  console.error(msg);
  process.exit(1);
}
