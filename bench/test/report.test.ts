import { describe, expect, it } from 'vitest';
import { summarizeProfile } from '../lib/profile.mjs';
import {
  evaluateTargets,
  README_END,
  README_START,
  renderMarkdown,
  replaceBetweenMarkers,
  type Scenario,
  summarize,
  type Target,
} from '../lib/report.mjs';

function plaintext(): Scenario {
  return {
    id: 'plaintext',
    title: 'plaintext',
    unit: 'req/s',
    higherIsBetter: true,
    latency: true,
    cells: {
      node: {
        runs: [
          { value: 10_000, p50Ms: 1, p99Ms: 9 },
          { value: 12_000, p50Ms: 2, p99Ms: 7 },
          { value: 11_000, p50Ms: 3, p99Ms: 8 },
        ],
      },
      web: {
        runs: [
          { value: 30_000, p50Ms: 0.5, p99Ms: 2 },
          { value: 33_000, p50Ms: 0.4, p99Ms: 3, errors: 2, note: 'round 2: 2 read errors' },
          { value: 27_500, p50Ms: 0.6, p99Ms: 4 },
        ],
      },
      raw: { runs: [], skipped: 'n/a: not an HTTP server' },
      gone: { runs: [], skipped: 'not available: Cannot find module' },
    },
  };
}

const contenders = [
  { id: 'node', label: 'node:http', available: true },
  { id: 'web', label: 'tornado-ts web', available: true },
  { id: 'raw', label: 'raw', available: true },
  { id: 'gone', label: 'missing one', available: false, reason: 'Cannot find module dist/index.js' },
];

describe('summarize', () => {
  it('takes medians over the rounds and the ratio to node:http', () => {
    const sc = summarize(plaintext());
    expect(sc.cells.node?.median).toBe(11_000);
    expect(sc.cells.node?.ratio).toBe(1);
    expect(sc.cells.web?.median).toBe(30_000);
    expect(sc.cells.web?.ratio).toBeCloseTo(30_000 / 11_000, 10);
    expect(sc.cells.web?.p50Ms).toBe(0.5);
    expect(sc.cells.web?.p99Ms).toBe(3);
    expect(sc.cells.web?.errors).toBe(2);
    expect(sc.cells.raw?.median).toBeUndefined();
  });

  it('leaves ratios unknown without a baseline', () => {
    const sc = plaintext();
    delete sc.cells.node;
    summarize(sc);
    expect(sc.cells.web?.median).toBe(30_000);
    expect(sc.cells.web?.ratio).toBeNaN();
  });
});

describe('evaluateTargets', () => {
  const idle: Scenario = {
    id: 'idle',
    title: 'idle',
    unit: 'KB/conn',
    higherIsBetter: false,
    cells: { web: { runs: [{ value: 2.5 }, { value: 3.5 }, { value: 4 }] } },
  };
  const targets: Target[] = [
    {
      id: 'a',
      text: 'web ≥ 2× node',
      scenario: 'plaintext',
      subject: 'web',
      versus: 'node',
      goal: 2,
      kind: 'min',
    },
    {
      id: 'b',
      text: 'web ≥ 4× node',
      scenario: 'plaintext',
      subject: 'web',
      versus: 'node',
      goal: 4,
      kind: 'min',
    },
    { id: 'idle-web', text: 'web ≤ 3 KB', scenario: 'idle', subject: 'web', goal: 3, kind: 'max' },
    {
      id: 'd',
      text: 'web ≥ 1× raw',
      scenario: 'plaintext',
      subject: 'web',
      versus: 'raw',
      goal: 1,
      kind: 'min',
    },
    { id: 'e', text: 'elsewhere', scenario: 'nowhere', subject: 'web', goal: 1, kind: 'min' },
  ];

  it('says met, missed by how much, or why unknown', () => {
    const [a, b, c, d, e] = evaluateTargets(targets, [summarize(plaintext()), summarize(idle)]);
    expect(a).toMatchObject({ status: 'met', goal: 2 });
    expect(a?.measured).toBeCloseTo(30_000 / 11_000, 10);
    expect(b?.status).toBe('missed');
    expect(b?.shortfallPct).toBeCloseTo(((4 - 30_000 / 11_000) / 4) * 100, 10);
    expect(c).toMatchObject({ status: 'missed', measured: 3.5 });
    expect(c?.shortfallPct).toBeCloseTo((0.5 / 3) * 100, 10);
    expect(d).toMatchObject({ status: 'unknown', why: 'no measurement for raw' });
    expect(e).toMatchObject({ status: 'unknown', why: 'no measurement for web' });
  });
});

describe('renderMarkdown', () => {
  it('renders values, ratios, latency, targets and notes', () => {
    const sc = summarize(plaintext());
    const targets = evaluateTargets(
      [
        {
          id: 'a',
          text: 'web ≥ 2× node',
          scenario: 'plaintext',
          subject: 'web',
          versus: 'node',
          goal: 2,
          kind: 'min',
        },
      ],
      [sc],
    );
    const md = renderMarkdown({
      meta: {
        date: '2026-11-23T07:00:00Z',
        cpus: 2,
        node: '20.20.2',
        rounds: 3,
        durationS: 5,
        loadAverage: [0.5, 1.25],
        notes: ['a note'],
      },
      contenders,
      scenarios: [sc],
      targets,
    });
    const lines = md.split('\n');
    expect(lines).toContain('| scenario | unit | node:http | tornado-ts web | raw | missing one |');
    expect(lines).toContain('| plaintext | req/s | 11,000 | 30,000 · 2.73× ⚠2 | n/a | – |');
    expect(lines).toContain('| plaintext | 2.00 ms / 8.00 ms | 500 µs / 3.00 ms | n/a | n/a |');
    expect(lines).toContain('| web ≥ 2× node | 2.73× | ✅ met |');
    expect(md).toContain('- missing one: not available — Cannot find module dist/index.js');
    expect(md).toContain('- plaintext, tornado-ts web: round 2: 2 read errors');
    expect(md).toContain('- a note');
    expect(md).toContain('Load average 0.5 before, 1.25 after.');
    expect(md).not.toContain('Quick run');
  });

  it('shows where the time goes for missed targets', () => {
    const md = renderMarkdown({
      meta: {},
      contenders,
      scenarios: [summarize(plaintext())],
      targets: [],
      profiles: [
        {
          contender: 'tornado-ts web',
          scenario: 'plaintext',
          file: 'results/profiles/x.cpuprofile',
          top: '   30.0 %  writev',
        },
      ],
    });
    expect(md).toContain('tornado-ts web, plaintext:\n\n```text\n   30.0 %  writev\n```');
  });

  it('marks quick runs, failed cells and missed targets', () => {
    const sc = plaintext();
    sc.cells.web = { runs: [{ value: Number.NaN, errors: 1, note: 'round 1: wrk failed' }] };
    summarize(sc);
    const targets = evaluateTargets(
      [
        {
          id: 'a',
          text: 'web ≥ 2× node',
          scenario: 'plaintext',
          subject: 'web',
          versus: 'node',
          goal: 2,
          kind: 'min',
        },
      ],
      [sc],
    );
    const md = renderMarkdown({ meta: { quick: true }, contenders, scenarios: [sc], targets });
    expect(md).toContain('**Quick run: the numbers are not meaningful.**');
    expect(md).not.toContain('Where the time goes');
    expect(md).toContain('| plaintext | req/s | 11,000 | failed | n/a | – |');
    expect(md).toContain('| web ≥ 2× node | – | ❔ no measurement for web |');
  });
});

describe('replaceBetweenMarkers', () => {
  it('replaces only what lies between the markers', () => {
    const readme = `# bench\n\nintro\n\n${README_START}\nold table\n${README_END}\n\nafter\n`;
    const out = replaceBetweenMarkers(readme, '| new |\n');
    expect(out).toBe(`# bench\n\nintro\n\n${README_START}\n| new |\n${README_END}\n\nafter\n`);
    expect(replaceBetweenMarkers(out, '| newer |')).toContain(`${README_START}\n| newer |\n${README_END}`);
  });
  it('throws when the markers are missing', () => {
    expect(() => replaceBetweenMarkers('# no markers', 'x')).toThrow(/markers/);
    expect(() => replaceBetweenMarkers(`${README_END}\n${README_START}`, 'x')).toThrow(/markers/);
  });
});

describe('summarizeProfile', () => {
  it('ranks functions by self time, leaving idle time out', () => {
    const frame = (functionName: string, url: string, lineNumber: number) => ({
      functionName,
      url,
      lineNumber,
    });
    const profile = {
      nodes: [
        { id: 1, callFrame: frame('(root)', '', -1), children: [2, 3] },
        { id: 2, callFrame: frame('parse', 'file:///work/main/packages/httpserver/dist/index.js', 9) },
        { id: 3, callFrame: frame('', 'node:net', 99) },
        { id: 4, callFrame: frame('(idle)', '', -1) },
      ],
      samples: [2, 4, 2, 3, 2, 1, 4],
      timeDeltas: [100, 5000, 100, 100, 100, 100, 9000],
    };
    const lines = summarizeProfile(profile, 2).split('\n');
    expect(lines).toEqual([
      '   60.0 %  parse  packages/httpserver/dist/index.js:10',
      '   20.0 %  (anonymous)  node:net:100',
    ]);
    expect(summarizeProfile({ nodes: [] })).toBe('  (no samples)');
  });
});
