// What is measured: contenders, scenarios and the targets of issue 8. Data only.

/**
 * @typedef {object} ContenderSpec
 * @property {string} id
 * @property {string} label
 * @property {'node' | 'python'} runtime
 * @property {string} script            file in bench/servers/
 * @property {boolean} [tornadoTs]      built from this repository's packages
 */

/** @type {ContenderSpec[]} */
export const CONTENDERS = [
  { id: 'node', label: 'node:http', runtime: 'node', script: 'node-http.mjs' },
  { id: 'ts-web', label: 'tornado-ts web', runtime: 'node', script: 'ts-web.mjs', tornadoTs: true },
  { id: 'ts-http', label: 'tornado-ts HTTPServer', runtime: 'node', script: 'ts-http.mjs', tornadoTs: true },
  {
    id: 'ts-http-net',
    label: 'tornado-ts HTTPServer on net.Socket',
    runtime: 'node',
    script: 'ts-http-net.mjs',
    tornadoTs: true,
  },
  { id: 'ts-tcp', label: 'tornado-ts TCPServer', runtime: 'node', script: 'ts-tcp.mjs', tornadoTs: true },
  { id: 'fastify', label: 'Fastify 5', runtime: 'node', script: 'fastify.mjs' },
  { id: 'tornado', label: 'Tornado 6 (Python)', runtime: 'python', script: 'tornado_server.py' },
  { id: 'raw', label: 'raw net (ceiling)', runtime: 'node', script: 'raw.mjs' },
];

const HTTP = ['node', 'ts-web', 'ts-http', 'fastify', 'tornado'];
// The HTTPServer with nativeSockets: false, to show what the native transport brings.
const NET = 'the same HTTPServer on net.Socket is measured on plaintext, pipelining and idle only';
const ALL = CONTENDERS.map((c) => c.id);

/**
 * @typedef {object} ScenarioSpec
 * @property {string} id
 * @property {string} title
 * @property {'wrk' | 'idle' | 'download' | 'upload'} kind
 * @property {string} unit
 * @property {boolean} higherIsBetter
 * @property {string[]} contenders                 who takes part
 * @property {Record<string, string>} [na]         why the others do not
 * @property {string} [path]
 * @property {string[]} [wrkArgs]                  extra wrk arguments (before the URL)
 * @property {string[]} [scriptArgs]               arguments after `--` for the Lua script
 * @property {'plaintext' | 'pipelined' | 'json' | 'echo' | 'close'} [check]
 * @property {'burst' | 'steady'} [when]            idle only: read RSS 2 s after the burst of connects,
 *                                                 or once the server has been idle long enough for
 *                                                 V8's idle-time GC to give the burst's garbage back
 */

const FIXED = 'answers one fixed response without parsing: not an HTTP server';

/** @type {ScenarioSpec[]} */
export const SCENARIOS = [
  {
    id: 'plaintext',
    title: 'plaintext, keep-alive, 50 conns',
    kind: 'wrk',
    unit: 'req/s',
    higherIsBetter: true,
    contenders: ALL,
    path: '/plaintext',
    check: 'plaintext',
  },
  {
    id: 'pipelined',
    title: 'plaintext, 16-deep pipelining, 50 conns',
    kind: 'wrk',
    unit: 'req/s',
    higherIsBetter: true,
    contenders: ALL,
    path: '/plaintext',
    wrkArgs: ['-s', 'lua/pipeline.lua'],
    scriptArgs: ['16'],
    check: 'pipelined',
  },
  {
    id: 'json',
    title: 'JSON, keep-alive, 50 conns',
    kind: 'wrk',
    unit: 'req/s',
    higherIsBetter: true,
    contenders: HTTP,
    na: { 'ts-tcp': FIXED, raw: FIXED, 'ts-http-net': NET },
    path: '/json',
    check: 'json',
  },
  {
    id: 'echo',
    title: '1 KB POST echo, 50 conns',
    kind: 'wrk',
    unit: 'req/s',
    higherIsBetter: true,
    contenders: HTTP,
    na: { 'ts-tcp': FIXED, raw: FIXED, 'ts-http-net': NET },
    path: '/echo',
    wrkArgs: ['-s', 'lua/post.lua'],
    scriptArgs: ['1024'],
    check: 'echo',
  },
  {
    id: 'close',
    title: '`Connection: close` churn, 50 conns',
    kind: 'wrk',
    unit: 'req/s',
    higherIsBetter: true,
    contenders: HTTP,
    na: { 'ts-tcp': FIXED, raw: FIXED, 'ts-http-net': NET },
    path: '/plaintext',
    wrkArgs: ['-H', 'Connection: close'],
    check: 'close',
  },
  {
    id: 'idle',
    title: 'idle keep-alive connections: RSS per connection, 2 s after the burst of connects',
    kind: 'idle',
    when: 'burst',
    unit: 'KB/conn',
    higherIsBetter: false,
    contenders: ALL,
  },
  {
    id: 'idle-steady',
    title: 'idle keep-alive connections: RSS per connection, steady (after V8’s idle-time GC)',
    kind: 'idle',
    when: 'steady',
    unit: 'KB/conn',
    higherIsBetter: false,
    contenders: ALL,
  },
  {
    id: 'download',
    title: 'static file download',
    kind: 'download',
    unit: 'MB/s',
    higherIsBetter: true,
    contenders: HTTP,
    na: { 'ts-tcp': FIXED, raw: FIXED, 'ts-http-net': NET },
  },
  {
    id: 'upload',
    title: 'streamed upload',
    kind: 'upload',
    unit: 'MB/s',
    higherIsBetter: true,
    contenders: ['node', 'ts-web', 'fastify', 'tornado'],
    na: {
      'ts-http': 'the request callback gets whole bodies: streaming is the web layer’s',
      'ts-http-net': NET,
      'ts-tcp': FIXED,
      raw: FIXED,
    },
  },
];

/** @type {import('./report.mjs').Target[]} */
export const TARGETS = [
  {
    id: 'web-fastify',
    text: 'web ≥ 1.5× Fastify (plaintext)',
    scenario: 'plaintext',
    subject: 'ts-web',
    versus: 'fastify',
    goal: 1.5,
    kind: 'min',
  },
  {
    id: 'web-node',
    text: 'web ≥ 1.5× node:http (plaintext)',
    scenario: 'plaintext',
    subject: 'ts-web',
    versus: 'node',
    goal: 1.5,
    kind: 'min',
  },
  {
    id: 'web-fastify-json',
    text: 'web ≥ 1.5× Fastify (JSON)',
    scenario: 'json',
    subject: 'ts-web',
    versus: 'fastify',
    goal: 1.5,
    kind: 'min',
  },
  {
    id: 'web-node-json',
    text: 'web ≥ 1.5× node:http (JSON)',
    scenario: 'json',
    subject: 'ts-web',
    versus: 'node',
    goal: 1.5,
    kind: 'min',
  },
  {
    id: 'http-node',
    text: 'HTTPServer ≥ 2× node:http (plaintext)',
    scenario: 'plaintext',
    subject: 'ts-http',
    versus: 'node',
    goal: 2,
    kind: 'min',
  },
  {
    id: 'http-raw',
    text: 'HTTPServer ≥ 70 % of the raw ceiling (plaintext)',
    scenario: 'plaintext',
    subject: 'ts-http',
    versus: 'raw',
    goal: 0.7,
    kind: 'min',
  },
  {
    id: 'pipelined-node',
    text: 'pipelined: HTTPServer ≥ 4× node:http',
    scenario: 'pipelined',
    subject: 'ts-http',
    versus: 'node',
    goal: 4,
    kind: 'min',
  },
  {
    id: 'web-tornado',
    text: 'web ≥ 8× Tornado (plaintext)',
    scenario: 'plaintext',
    subject: 'ts-web',
    versus: 'tornado',
    goal: 8,
    kind: 'min',
  },
  {
    id: 'idle-web',
    text: 'web ≤ 3 KB per idle connection (steady)',
    scenario: 'idle-steady',
    subject: 'ts-web',
    goal: 3,
    kind: 'max',
  },
  {
    id: 'idle-http',
    text: 'HTTPServer ≤ 3 KB per idle connection (steady)',
    scenario: 'idle-steady',
    subject: 'ts-http',
    goal: 3,
    kind: 'max',
  },
  {
    id: 'download-web',
    text: 'web download ≥ node:http with fs streams',
    scenario: 'download',
    subject: 'ts-web',
    versus: 'node',
    goal: 1,
    kind: 'min',
  },
  {
    id: 'upload-web',
    text: 'web upload ≥ node:http',
    scenario: 'upload',
    subject: 'ts-web',
    versus: 'node',
    goal: 1,
    kind: 'min',
  },
];
