#!/usr/bin/env node
// The benchmark runner: `npm run bench [-- --quick] [--scenario a,b] [--contender a,b] …`.
// See README.md for what is measured and how.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import readline from 'node:readline';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { check } from './lib/checks.mjs';
import { CONTENDERS, SCENARIOS, TARGETS } from './lib/config.mjs';
import { freePort, have, pinned, rssKiB, run, sleep, startServer } from './lib/proc.mjs';
import { summarizeProfile } from './lib/profile.mjs';
import { evaluateTargets, renderMarkdown, replaceBetweenMarkers, summarize } from './lib/report.mjs';
import { formatNumber } from './lib/stats.mjs';
import { errorCount, parseWrkOutput } from './lib/wrk.mjs';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const ROOT = path.resolve(HERE, '..');
const PROFILES = path.join(HERE, 'results', 'profiles');

const { values: opt } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    build: { type: 'boolean', default: true },
    'no-build': { type: 'boolean', default: false },
    scenario: { type: 'string' },
    contender: { type: 'string' },
    rounds: { type: 'string' },
    duration: { type: 'string' },
    'idle-count': { type: 'string' },
    size: { type: 'string' },
    profile: { type: 'string' },
    'no-readme': { type: 'boolean', default: false },
    micro: { type: 'boolean', default: false },
    'no-profile-pass': { type: 'boolean', default: false },
    help: { type: 'boolean', short: 'h', default: false },
  },
});

if (opt.help) {
  console.log(`usage: npm run bench -- [options]
  --quick              ~1 minute: 1 round of 1 s, 1,000 idle connections, 32 MiB transfers; fails only on errors
  --scenario a,b       only these scenarios (${SCENARIOS.map((s) => s.id).join(', ')})
  --contender a,b      only these contenders (${CONTENDERS.map((c) => c.id).join(', ')}); node:http is always kept
  --rounds N           rounds per scenario (default 3)
  --duration S         seconds per wrk run (default 4)
  --idle-count N       idle connections (default 10000)
  --size BYTES         transfer size (default 1 GiB)
  --profile id,…       run these Node contenders under --cpu-prof and print where their time goes
  --no-build           do not build the tornado-ts packages first
  --no-readme          do not rewrite the table in bench/README.md
  --no-profile-pass    full runs profile the subject of each missed target afterwards; not with this
  --micro              run the layers' micro-benchmarks (bench/micro/*.mjs, against dist/) instead
Full runs write bench/results/latest.json and the README table; --quick and filtered runs write
bench/results/quick.json or partial.json instead.`);
  process.exit(0);
}

const quick = opt.quick;
const filtered = Boolean(
  opt.scenario || opt.contender || opt.rounds || opt.duration || opt['idle-count'] || opt.size,
);
const rounds = Number(opt.rounds ?? (quick ? 1 : 3));
const durationS = Number(opt.duration ?? (quick ? 1 : 4));
const warmupS = quick ? 0 : 2;
const settleMs = quick ? 500 : 2000;
const steadyMaxMs = quick ? 20_000 : 90_000;
const transferSize = Number(opt.size ?? (quick ? 32 * 1024 ** 2 : 1024 ** 3));
const profileIds = new Set((opt.profile ?? '').split(',').filter(Boolean));
const CONNECTIONS = 50;

const cpus = os.cpus();
const serverCpu = cpus.length >= 2 ? 0 : null;
const clientCpu = cpus.length >= 2 ? 1 : null;
const notes = /** @type {string[]} */ ([]);
let failures = 0;

/** @param {string} msg */
const log = (msg) => console.log(msg);
/** @param {string} msg */
const fail = (msg) => {
  failures++;
  console.log(`  ERROR ${msg}`);
};

// ---------------------------------------------------------------- tools
async function ensureTools() {
  const missing = [];
  if (!have('wrk')) missing.push('wrk');
  if (!have('curl')) missing.push('curl');
  const tornadoOk = async () =>
    (await run('/usr/bin/python3', ['-c', 'import tornado; print(tornado.version)'])).stdout.trim();
  let tornado = fs.existsSync('/usr/bin/python3') ? await tornadoOk() : '';
  if (!tornado) missing.push('python3-tornado');
  if (missing.length > 0 && have('apt-get') && process.getuid?.() === 0) {
    log(`installing ${missing.join(' ')} with apt-get …`);
    const env = 'DEBIAN_FRONTEND=noninteractive';
    const r = await run(
      'sh',
      [
        '-c',
        `${env} apt-get install -y -qq ${missing.join(' ')} || (apt-get update -qq && ${env} apt-get install -y -qq ${missing.join(' ')})`,
      ],
      { timeoutMs: 300_000 },
    );
    if (r.code !== 0) log(`apt-get failed: ${r.stderr.trim().split('\n').slice(-2).join(' / ')}`);
    if (fs.existsSync('/usr/bin/python3')) tornado = await tornadoOk();
  }
  if (!have('wrk')) throw new Error('wrk is missing and could not be installed (apt-get install wrk)');
  if (!have('curl')) throw new Error('curl is missing and could not be installed (apt-get install curl)');
  const wrkVersion = (await run('wrk', ['--version'])).stdout.split('\n')[0]?.trim() ?? '';
  return { tornado, wrkVersion };
}

async function build() {
  log('building the tornado-ts packages (npx turbo run build --filter=@tornado-ts/web...) …');
  const r = await run(
    'npx',
    ['turbo', 'run', 'build', '--filter=@tornado-ts/web...', '--continue', '--output-logs=errors-only'],
    {
      cwd: ROOT,
      timeoutMs: 600_000,
    },
  );
  if (r.code !== 0) {
    const out = `${r.stdout}\n${r.stderr}`.trim().split('\n');
    log(
      `  the build failed (contenders that cannot load will be reported as not available):\n    ${out.slice(-8).join('\n    ')}`,
    );
    notes.push('`turbo run build` failed for part of the stack; contenders report what they could load.');
  }
}

// ---------------------------------------------------------------- data
/** @param {number} size */
function dataFile(size) {
  const dir = path.join(os.tmpdir(), 'tornado-ts-bench');
  fs.mkdirSync(dir, { recursive: true });
  const name = `blob-${size}.bin`;
  const file = path.join(dir, name);
  if (!fs.existsSync(file) || fs.statSync(file).size !== size) {
    log(`writing the ${formatNumber(size / 1024 ** 2, 0)} MiB test file ${file} …`);
    const block = Buffer.alloc(1024 ** 2);
    for (let i = 0; i < block.length; i++) block[i] = (i * 31 + 7) & 0xff;
    const fd = fs.openSync(`${file}.tmp`, 'w');
    for (let left = size; left > 0; left -= block.length)
      fs.writeSync(fd, block, 0, Math.min(left, block.length));
    fs.closeSync(fd);
    fs.renameSync(`${file}.tmp`, file);
  }
  return { dir, name, file, size };
}

// ---------------------------------------------------------------- servers
/**
 * @param {import('./lib/config.mjs').ContenderSpec} c
 * @param {number} port
 * @param {string} dir
 * @param {boolean} [profile]   run under node --cpu-prof, profiles into results/profiles/
 */
function serverCommand(c, port, dir, profile = profileIds.has(c.id)) {
  const script = path.join(HERE, 'servers', c.script);
  if (c.runtime === 'python') return pinned(serverCpu, ['/usr/bin/python3', script, String(port), dir]);
  const flags = profile ? ['--cpu-prof', `--cpu-prof-dir=${PROFILES}`] : [];
  return pinned(serverCpu, [process.execPath, ...flags, script, String(port), dir]);
}

/**
 * @param {import('./lib/config.mjs').ContenderSpec} c
 * @param {string} dir
 */
async function launch(c, dir, profile = profileIds.has(c.id)) {
  const port = await freePort();
  const [cmd, argv] = serverCommand(c, port, dir, profile);
  const server = await startServer([cmd, ...argv], port, { cwd: HERE });
  // sh and taskset exec the server, so this pid is the server's (and in its profile's file name).
  if (profile) profiledPids.set(server.pid, c.label);
  return server;
}

/**
 * The profile files a server wrote (`CPU.<date>.<time>.<pid>.<tid>.<seq>.cpuprofile`).
 * @param {number} pid
 */
function profilesOf(pid) {
  if (!fs.existsSync(PROFILES)) return [];
  return fs.readdirSync(PROFILES).filter((n) => n.endsWith('.cpuprofile') && n.split('.')[3] === String(pid));
}

/**
 * Where the time goes for each missed target: its subject runs the target's load once more under
 * node --cpu-prof (not recorded), and the functions with the most self time are kept.
 * @param {import('./lib/report.mjs').TargetResult[]} targetResults
 * @param {string} dir
 * @param {{ name: string, file: string, size: number } | null} data
 * @returns {Promise<import('./lib/report.mjs').ProfileSummary[]>}
 */
async function profilePass(targetResults, dir, data) {
  /** @type {import('./lib/report.mjs').ProfileSummary[]} */
  const out = [];
  const seen = new Set();
  for (const t of targetResults) {
    const target = TARGETS.find((x) => x.id === t.id);
    if (t.status !== 'missed' || !target) continue;
    const spec = CONTENDERS.find((c) => c.id === target.subject);
    const sc = SCENARIOS.find((s) => s.id === target.scenario);
    const key = `${target.subject}/${target.scenario}`;
    if (!spec || !sc || spec.runtime !== 'node' || sc.kind === 'idle' || seen.has(key)) continue;
    seen.add(key);
    log(`  profiling ${spec.label} under "${sc.title}" …`);
    try {
      const server = await launch(spec, dir, true);
      try {
        if (sc.kind === 'wrk') await wrk(sc, server.port, durationS);
        // Three transfers, so that start-up and first-request work (an ETag hash) do not dominate.
        else if (data) for (let i = 0; i < 3; i++) await transfer(sc.kind, server.port, data);
      } finally {
        await server.stop();
      }
      for (const f of profilesOf(server.pid)) {
        const profile = JSON.parse(fs.readFileSync(path.join(PROFILES, f), 'utf8'));
        out.push({
          contender: spec.label,
          scenario: sc.title,
          file: `results/profiles/${f}`,
          top: summarizeProfile(profile, 12),
        });
      }
    } catch (err) {
      log(`  profiling ${spec.label} failed: ${/** @type {Error} */ (err).message}`);
    }
  }
  return out;
}

/** @type {Map<number, string>} server pid -> contender label, for the --profile summaries */
const profiledPids = new Map();

// ---------------------------------------------------------------- measurements
/**
 * @param {import('./lib/config.mjs').ScenarioSpec} sc
 * @param {number} port
 * @param {number} seconds
 */
async function wrk(sc, port, seconds) {
  const argv = [
    '-t1',
    `-c${CONNECTIONS}`,
    `-d${seconds}s`,
    '--latency',
    ...(sc.wrkArgs ?? []),
    `http://127.0.0.1:${port}${sc.path}`,
  ];
  if (sc.scriptArgs) argv.push('--', ...sc.scriptArgs);
  const [cmd, args] = pinned(clientCpu, ['wrk', ...argv]);
  const r = await run(cmd, args, { cwd: HERE, timeoutMs: (seconds + 30) * 1000 });
  if (r.code !== 0 || r.timedOut)
    throw new Error(
      `wrk failed (${r.timedOut ? 'timed out' : `code ${r.code}`}): ${r.stderr.trim().slice(0, 300)}`,
    );
  return parseWrkOutput(r.stdout);
}

/**
 * @param {'download' | 'upload'} kind
 * @param {number} port
 * @param {{ name: string, file: string, size: number }} data
 */
async function transfer(kind, port, data) {
  const common = [
    '-sS',
    '--max-time',
    '120',
    '-w',
    '\n%{http_code} %{size_download} %{size_upload} %{time_total}',
  ];
  const argv =
    kind === 'download'
      ? [...common, '-o', '/dev/null', `http://127.0.0.1:${port}/static/${data.name}`]
      : [
          ...common,
          '-X',
          'POST',
          '-H',
          'Expect:',
          '-H',
          'Content-Type: application/octet-stream',
          '-T',
          data.file,
          `http://127.0.0.1:${port}/upload`,
        ];
  const [cmd, args] = pinned(clientCpu, ['curl', ...argv]);
  const r = await run(cmd, args, { timeoutMs: 150_000 });
  const lines = r.stdout.trimEnd().split('\n');
  const [code, down, up, total] = (lines.pop() ?? '').split(' ');
  const bytes = Number(kind === 'download' ? down : up);
  if (r.code !== 0 || code !== '200' || bytes !== data.size) {
    throw new Error(
      `curl ${kind}: exit ${r.code}, HTTP ${code}, ${bytes} of ${data.size} bytes ${r.stderr.trim().slice(0, 200)}`,
    );
  }
  if (kind === 'upload' && lines.join('\n').trim() !== String(data.size)) {
    throw new Error(
      `upload: the server counted ${JSON.stringify(lines.join('\n').slice(0, 40))} bytes, ${data.size} were sent`,
    );
  }
  return data.size / Number(total) / 1e6;
}

/**
 * Fresh server, N idle keep-alive connections from a separate client process, RSS delta per connection.
 * Two readings: `burst`, after `settleMs`, still holds what V8's young generation grew to while
 * the connections were accepted; `steady` waits (up to `steadyMaxMs`) until RSS has dropped and then
 * stayed flat, which is when V8's memory reducer has run on the now idle server.
 * @param {import('./lib/config.mjs').ContenderSpec} c
 * @param {string} dir
 * @param {number} count
 * @param {boolean} wantSteady
 * @returns {Promise<{ burst: import('./lib/report.mjs').Run, steady?: import('./lib/report.mjs').Run }>}
 */
async function idleRound(c, dir, count, wantSteady) {
  const server = await launch(c, dir);
  /** @type {import('node:child_process').ChildProcess | undefined} */
  let client;
  try {
    await check(server.port, 'plaintext');
    await sleep(quick ? 200 : 1000);
    const before = rssKiB(server.pid);
    const [cmd, args] = pinned(clientCpu, [
      process.execPath,
      path.join(HERE, 'clients', 'idle.mjs'),
      String(server.port),
      String(count),
    ]);
    client = spawn(cmd, args, { stdio: ['pipe', 'pipe', 'inherit'] });
    const lines = readline.createInterface({
      input: /** @type {import('node:stream').Readable} */ (client.stdout),
    });
    const it = lines[Symbol.asyncIterator]();
    /** @param {number} ms */
    const nextLine = async (ms) => {
      /** @type {NodeJS.Timeout | undefined} */
      let timer;
      const timeout = new Promise((_resolve, reject) => {
        timer = setTimeout(
          () => reject(new Error(`the idle client did not answer within ${ms / 1000} s`)),
          ms,
        );
      });
      try {
        const r = /** @type {IteratorResult<string>} */ (await Promise.race([it.next(), timeout]));
        if (r.done) throw new Error('the idle client exited');
        return JSON.parse(r.value);
      } finally {
        clearTimeout(timer);
      }
    };
    const connected = await nextLine(120_000);
    if (connected.connected === 0) throw new Error(`no connection held: ${connected.error}`);
    await sleep(settleMs);
    if (!server.alive()) throw new Error('the server exited');
    const burst = rssKiB(server.pid);
    // V8's memory reducer comes 8–40 s after the burst; CPython has none, so Tornado is not waited for.
    const steady = !wantSteady
      ? undefined
      : c.runtime === 'node'
        ? await steadyRss(server.pid, before, burst)
        : { kib: burst, shrank: false };
    if (!server.alive()) throw new Error('the server exited');
    client.stdin?.write('check\n');
    const { open } = await nextLine(10_000);
    client.stdin?.write('exit\n');
    if (open === 0) throw new Error(`the server closed all ${connected.connected} idle connections`);
    const lost = [];
    if (connected.failed > 0)
      lost.push(`${connected.failed} of ${count} connections failed (${connected.error})`);
    if (open < connected.connected)
      lost.push(`${connected.connected - open} closed by the server while idle`);
    const note = lost.length ? { note: lost.join('; ') } : {};
    return {
      burst: { value: (burst - before) / open, errors: connected.failed, ...note },
      ...(steady && {
        steady: {
          value: (steady.kib - before) / open,
          errors: connected.failed,
          ...(steady.shrank
            ? note
            : {
                note: [
                  ...lost,
                  c.runtime === 'node'
                    ? `no idle-time shrink within ${steadyMaxMs / 1000} s: the last reading counts`
                    : 'no idle-time GC in this runtime: the burst reading counts',
                ].join('; '),
              }),
        },
      }),
    };
  } finally {
    client?.kill('SIGKILL');
    await server.stop();
  }
}

/**
 * Polls a server's RSS until it has fallen by a tenth of the burst's growth and then held still
 * (within 0.5 %) for 3 s, or until `steadyMaxMs`. An idle V8 runs its memory reducer (a
 * Mark-Compact with "reduce" that also shrinks the young generation) 8–40 s after the burst.
 * @param {number} pid
 * @param {number} before  RSS before the connections, KiB
 * @param {number} burst   RSS after the burst, KiB
 * @returns {Promise<{ kib: number, shrank: boolean }>}
 */
async function steadyRss(pid, before, burst) {
  const deadline = Date.now() + steadyMaxMs;
  let last = burst;
  let stableSince = Date.now();
  let shrank = false;
  while (Date.now() < deadline) {
    await sleep(500);
    const now = rssKiB(pid);
    if (Math.abs(now - last) > last * 0.005) {
      last = now;
      stableSince = Date.now();
    }
    if (!shrank && now < burst - (burst - before) * 0.1) shrank = true;
    if (shrank && Date.now() - stableSince >= 3000) break;
  }
  return { kib: last, shrank };
}

// ---------------------------------------------------------------- micro
/** Runs each layer's bench/micro/<layer>.mjs in turn; they print their own ratios. */
async function micro() {
  if (opt.build && !opt['no-build']) await build();
  const dir = path.join(HERE, 'micro');
  const files = fs.existsSync(dir)
    ? fs
        .readdirSync(dir)
        // <layer>.mjs only: not scratch files (_x.mjs) lying around
        .filter((f) => /^[a-z][\w-]*\.mjs$/.test(f))
        .sort()
    : [];
  if (files.length === 0) log('no micro-benchmarks in bench/micro/ yet');
  for (const f of files) {
    log(`\n== micro/${f}`);
    const code = await new Promise((resolve) => {
      const child = spawn(process.execPath, [path.join(dir, f)], { cwd: HERE, stdio: 'inherit' });
      child.on('exit', (c) => resolve(c));
    });
    if (code !== 0) fail(`micro/${f} exited with code ${code}`);
  }
  process.exitCode = failures ? 1 : 0;
}

// ---------------------------------------------------------------- main
async function main() {
  const started = Date.now();
  const loadStart = os.loadavg()[0];
  const onlyScenarios = opt.scenario ? new Set(opt.scenario.split(',')) : null;
  const onlyContenders = opt.contender ? new Set([...opt.contender.split(','), 'node']) : null;
  const scenarios = SCENARIOS.filter((s) => !onlyScenarios || onlyScenarios.has(s.id));
  const specs = CONTENDERS.filter((c) => !onlyContenders || onlyContenders.has(c.id));
  if (scenarios.length === 0 || specs.length === 0)
    throw new Error('nothing to run: check --scenario / --contender');

  const { tornado, wrkVersion } = await ensureTools();
  if (opt.build && !opt['no-build']) {
    const t0 = Date.now();
    await build();
    log(`  built in ${Math.round((Date.now() - t0) / 1000)} s`);
  }
  const hardLimit = Number((await run('sh', ['-c', 'ulimit -Hn'])).stdout.trim()) || 1024;
  let idleCount = Number(opt['idle-count'] ?? (quick ? 1000 : 10_000));
  if (idleCount > hardLimit - 500) {
    notes.push(
      `idle connections lowered from ${idleCount} to ${hardLimit - 500}: the open-files hard limit is ${hardLimit}`,
    );
    idleCount = hardLimit - 500;
  }
  const data = scenarios.some((s) => s.kind === 'download' || s.kind === 'upload')
    ? dataFile(transferSize)
    : null;
  const dir = data?.dir ?? os.tmpdir();
  const profilePassOn = !quick && !opt['no-profile-pass'];
  if (profileIds.size || profilePassOn) {
    fs.rmSync(PROFILES, { recursive: true, force: true });
    fs.mkdirSync(PROFILES, { recursive: true });
  }

  /** @type {import('./lib/report.mjs').Contender[]} */
  const contenders = specs.map((c) => ({ id: c.id, label: c.label, available: true }));
  const byId = Object.fromEntries(contenders.map((c) => [c.id, c]));
  if (!tornado && byId.tornado) {
    byId.tornado.available = false;
    byId.tornado.reason = '/usr/bin/python3 has no tornado module (apt-get install python3-tornado)';
  }

  // Long-running servers for the throughput and transfer scenarios.
  /** @type {Record<string, import('./lib/proc.mjs').Server>} */
  const servers = {};
  const needLongRunning = scenarios.some((s) => s.kind !== 'idle');
  for (const c of specs) {
    if (!byId[c.id].available) continue;
    try {
      const s = await launch(c, dir);
      if (needLongRunning) servers[c.id] = s;
      else await s.stop();
      log(`${c.label}: listening on ${s.port}`);
    } catch (err) {
      byId[c.id].available = false;
      byId[c.id].reason = /** @type {Error} */ (err).message;
      log(`${c.label}: not available — ${byId[c.id].reason}`);
    }
  }
  if (!byId.node?.available) throw new Error(`node:http, the baseline, did not start: ${byId.node?.reason}`);

  /** @type {import('./lib/report.mjs').Scenario[]} */
  const results = [];
  const steadyWanted = scenarios.some((s) => s.kind === 'idle' && s.when === 'steady');
  /** @type {Map<string, import('./lib/report.mjs').Run>} */
  const steadyKept = new Map();
  try {
    for (const sc of scenarios) {
      /** @type {import('./lib/report.mjs').Scenario} */
      const res = {
        id: sc.id,
        title: sc.title,
        unit: sc.unit,
        higherIsBetter: sc.higherIsBetter,
        latency: sc.kind === 'wrk',
        cells: {},
      };
      results.push(res);
      log(`\n== ${sc.title} (${sc.unit})  [${Math.round((Date.now() - started) / 1000)} s]`);
      const taking = [];
      for (const c of specs) {
        if (!sc.contenders.includes(c.id)) {
          res.cells[c.id] = { runs: [], skipped: `n/a: ${sc.na?.[c.id] ?? 'not part of this scenario'}` };
          continue;
        }
        if (!byId[c.id].available) {
          res.cells[c.id] = { runs: [], skipped: `not available: ${byId[c.id].reason}` };
          continue;
        }
        res.cells[c.id] = { runs: [] };
        if (sc.kind !== 'idle') {
          const s = servers[c.id];
          const kind = sc.kind === 'wrk' ? /** @type {any} */ (sc.check) : sc.kind;
          try {
            if (!s.alive())
              throw new Error(
                `the server exited${s.stderr() ? `: ${s.stderr().trim().split('\n').slice(-2).join(' / ')}` : ''}`,
              );
            await check(s.port, kind, { file: data?.name, size: data?.size });
          } catch (err) {
            const why = /** @type {Error} */ (err).message;
            res.cells[c.id] = { runs: [], skipped: `failed its check: ${why}` };
            log(`  ${c.label}: skipped, failed its check — ${why}`);
            continue;
          }
        }
        taking.push(c);
      }
      // Warm-up (JIT, caches such as Tornado's static-file hash), not recorded.
      if (warmupS > 0 || sc.kind === 'download') {
        for (const c of taking) {
          const s = servers[c.id];
          try {
            if (sc.kind === 'wrk') await wrk(sc, s.port, warmupS);
            else if (sc.kind === 'download' && data && !quick) await transfer('download', s.port, data);
          } catch (err) {
            log(`  ${c.label}: warm-up failed — ${/** @type {Error} */ (err).message}`);
          }
        }
      }
      for (let round = 1; round <= rounds; round++) {
        for (const c of taking) {
          const cell = res.cells[c.id];
          if (cell.skipped) continue;
          try {
            /** @type {import('./lib/report.mjs').Run} */
            let r;
            if (sc.kind === 'wrk') {
              const s = servers[c.id];
              const w = await wrk(sc, s.port, durationS);
              const errors = errorCount(w.errors);
              r = { value: w.rps, p50Ms: w.latencyMs['50'], p99Ms: w.latencyMs['99'], errors };
              if (!s.alive()) throw new Error('the server exited during the run');
              if (w.requests === 0) throw new Error('no request completed');
              if (errors > 0) {
                r.note = `round ${round}: ${JSON.stringify(w.errors)}`;
                // Connection churn can lose a handful of connects to the kernel's backlog; more is an error.
                if (w.errors.non2xx > 0 || errors > w.requests * 0.001)
                  fail(`${sc.id}/${c.id}: ${JSON.stringify(w.errors)} in ${w.requests} requests`);
              }
              log(
                `  round ${round} ${c.label.padEnd(24)} ${formatNumber(w.rps, 0).padStart(10)} req/s  p50 ${w.latencyMs['50']?.toFixed(2)} ms  p99 ${w.latencyMs['99']?.toFixed(2)} ms${errors ? `  errors ${JSON.stringify(w.errors)}` : ''}`,
              );
            } else if (sc.kind === 'idle') {
              // One round gives both readings: `idle` runs first and keeps the steady ones for
              // `idle-steady`, which then only measures by itself when run alone.
              const key = `${c.id}/${round}`;
              const kept = sc.when === 'steady' ? steadyKept.get(key) : undefined;
              if (kept) r = kept;
              else {
                const both = await idleRound(c, dir, idleCount, sc.when === 'steady' || steadyWanted);
                if (both.steady) steadyKept.set(key, both.steady);
                r = sc.when === 'steady' && both.steady ? both.steady : both.burst;
              }
              log(
                `  round ${round} ${c.label.padEnd(24)} ${r.value.toFixed(2).padStart(10)} KB/conn${r.note ? `  (${r.note})` : ''}`,
              );
              if (r.errors) fail(`${sc.id}/${c.id}: ${r.note}`);
            } else {
              if (!data) throw new Error('no data file');
              const mbps = await transfer(sc.kind, servers[c.id].port, data);
              r = { value: mbps };
              log(`  round ${round} ${c.label.padEnd(24)} ${mbps.toFixed(0).padStart(10)} MB/s`);
            }
            cell.runs.push(r);
          } catch (err) {
            const why = /** @type {Error} */ (err).message;
            fail(`${sc.id}/${c.id} round ${round}: ${why}`);
            cell.runs.push({ value: Number.NaN, errors: 1, note: `round ${round}: ${why}` });
          }
        }
      }
      summarize(res);
    }
  } finally {
    await Promise.all(Object.values(servers).map((s) => s.stop()));
  }

  const targetResults = evaluateTargets(
    TARGETS.filter((t) => results.some((s) => s.id === t.scenario)),
    results,
  );
  const idleRaw = results.find((s) => s.id === 'idle-steady')?.cells.raw?.median;
  if (
    targetResults.some((t) => t.id.startsWith('idle') && t.status === 'missed') &&
    Number.isFinite(idleRaw)
  ) {
    notes.push(
      `Per-connection memory floor in this run: a bare net.Socket that served one request (the raw ceiling) holds ${formatNumber(idleRaw ?? Number.NaN, 2)} KB.`,
    );
  }
  /** @type {import('./lib/report.mjs').ProfileSummary[]} */
  let profiles = [];
  if (profilePassOn && targetResults.some((t) => t.status === 'missed')) {
    log('\nprofiling the subjects of missed targets (node --cpu-prof, not recorded) …');
    profiles = await profilePass(targetResults, dir, data);
  }
  const meta = {
    date: new Date().toISOString().replace(/\.\d+Z$/, 'Z'),
    quick,
    filtered,
    node: process.versions.node,
    tornado: tornado || null,
    wrk: wrkVersion,
    cpus: cpus.length,
    cpuModel: cpus[0]?.model?.trim(),
    serverCpu,
    clientCpu,
    rounds,
    durationS,
    connections: CONNECTIONS,
    idleConnections: idleCount,
    transferBytes: transferSize,
    commit: (await run('git', ['rev-parse', '--short', 'HEAD'], { cwd: ROOT })).stdout.trim() || null,
    elapsedS: Math.round((Date.now() - started) / 1000),
    // 1-minute load average of the machine before and after: other work on it shows here.
    loadAverage: [Number(loadStart.toFixed(2)), Number(os.loadavg()[0].toFixed(2))],
    notes,
  };
  const doc = { meta, contenders, scenarios: results, targets: targetResults, profiles };
  const markdown = renderMarkdown(doc);
  log(`\n${markdown}\n`);

  if (profileIds.size) {
    for (const [pid, label] of profiledPids) {
      for (const f of profilesOf(pid)) {
        const summary = summarizeProfile(JSON.parse(fs.readFileSync(path.join(PROFILES, f), 'utf8')), 25);
        log(
          `${label}: where the time goes (self time, % of busy time), results/profiles/${f}:\n${summary}\n`,
        );
      }
    }
  }

  const name = quick ? 'quick.json' : filtered ? 'partial.json' : 'latest.json';
  const outFile = path.join(HERE, 'results', name);
  fs.mkdirSync(path.dirname(outFile), { recursive: true });
  fs.writeFileSync(
    outFile,
    `${JSON.stringify(doc, (_k, v) => (typeof v === 'number' && !Number.isFinite(v) ? null : v), 2)}\n`,
  );
  log(`wrote ${path.relative(ROOT, outFile)}`);
  if (!quick && !filtered && !opt['no-readme']) {
    const readme = path.join(HERE, 'README.md');
    fs.writeFileSync(readme, replaceBetweenMarkers(fs.readFileSync(readme, 'utf8'), markdown));
    log('updated the results table in bench/README.md');
  }
  log(`done in ${meta.elapsedS} s${failures ? `, with ${failures} error(s)` : ''}`);
  process.exitCode = failures ? 1 : 0;
}

(opt.micro ? micro() : main()).catch((err) => {
  console.error(`bench: ${err?.stack ?? err}`);
  process.exitCode = 1;
});
