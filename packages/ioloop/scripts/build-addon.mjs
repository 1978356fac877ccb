#!/usr/bin/env node
// Compiles the fd-handler addon with node-gyp at install time. Never fails the install: without
// the addon, everything but fd handlers and the fd helpers works, and those throw an error that
// explains how to fix it. Set TORNADO_TS_SKIP_ADDON=1 to skip the build.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const pkgDir = resolve(dirname(fileURLToPath(import.meta.url)), '..');

function warn(msg) {
  console.warn(`@tornado-ts/ioloop: ${msg}`);
  console.warn(
    '@tornado-ts/ioloop: fd handlers (IOLoop.addHandler, fdRead/fdWrite) will be unavailable; everything ' +
      'else works. To fix: install python3, make and g++, then run `npm rebuild @tornado-ts/ioloop`.',
  );
}

function findNodeGyp() {
  const candidates = [];
  if (process.env.npm_config_node_gyp) candidates.push(process.env.npm_config_node_gyp);
  try {
    candidates.push(createRequire(join(pkgDir, 'package.json')).resolve('node-gyp/bin/node-gyp.js'));
  } catch {
    // not installed as a package
  }
  const prefix = resolve(dirname(process.execPath), '..');
  candidates.push(
    join(prefix, 'lib/node_modules/npm/node_modules/node-gyp/bin/node-gyp.js'),
    '/usr/lib/node_modules/npm/node_modules/node-gyp/bin/node-gyp.js',
    '/usr/local/lib/node_modules/npm/node_modules/node-gyp/bin/node-gyp.js',
    '/usr/share/nodejs/node-gyp/bin/node-gyp.js',
  );
  return candidates.find((p) => p && existsSync(p)) ?? null;
}

/** Headers of the running Node (distro packages ship them, so no download is needed). */
function findNodeDir() {
  if (process.env.npm_config_nodedir) return process.env.npm_config_nodedir;
  const prefix = resolve(dirname(process.execPath), '..');
  return existsSync(join(prefix, 'include/node/node_api.h')) ? prefix : null;
}

function main() {
  if (process.env.TORNADO_TS_SKIP_ADDON) {
    warn('TORNADO_TS_SKIP_ADDON is set, not building the native addon.');
    return;
  }
  const gyp = findNodeGyp();
  if (!gyp) {
    warn('node-gyp was not found (it ships with npm), not building the native addon.');
    return;
  }
  const args = [gyp, 'rebuild'];
  const nodedir = findNodeDir();
  if (nodedir) args.push(`--nodedir=${nodedir}`);
  const r = spawnSync(process.execPath, args, { cwd: pkgDir, stdio: 'inherit', env: process.env });
  if (r.error) {
    warn(`could not run node-gyp: ${r.error.message}`);
  } else if (r.status !== 0) {
    warn(`node-gyp rebuild failed (exit ${r.status ?? r.signal}).`);
  } else if (!existsSync(join(pkgDir, 'build/Release/tornado_ioloop.node'))) {
    warn('node-gyp finished but build/Release/tornado_ioloop.node is missing.');
  }
}

try {
  main();
} catch (err) {
  warn(`unexpected error while building the native addon: ${err?.message ?? err}`);
}
process.exitCode = 0;
