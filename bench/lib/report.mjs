// Turning measurements into the results table: medians, ratios, targets and the Markdown that
// goes into bench/README.md. Pure: tested in test/report.test.ts.
import { formatMs, formatNumber, formatRatio, median, ratio } from './stats.mjs';

export const README_START = '<!-- bench:results:start -->';
export const README_END = '<!-- bench:results:end -->';
export const BASELINE = 'node';

/**
 * @typedef {object} Run   one measurement of one contender in one round
 * @property {number} value            the scenario's metric (req/s, MB/s, KB per connection)
 * @property {number} [p50Ms]
 * @property {number} [p99Ms]
 * @property {number} [errors]         socket errors + non-2xx responses (wrk) or failed transfers
 * @property {string} [note]
 */

/**
 * @typedef {object} Cell   one contender in one scenario
 * @property {Run[]} runs
 * @property {number} [median]
 * @property {number} [p50Ms]
 * @property {number} [p99Ms]
 * @property {number} [ratio]          median / the baseline's median
 * @property {number} [errors]         summed over the runs
 * @property {string} [skipped]        why it was not measured ("n/a: …", "not available: …")
 */

/**
 * @typedef {object} Scenario
 * @property {string} id
 * @property {string} title
 * @property {string} unit
 * @property {boolean} higherIsBetter
 * @property {boolean} [latency]       wrk latency percentiles were taken
 * @property {Record<string, Cell>} cells
 */

/**
 * @typedef {object} Contender
 * @property {string} id
 * @property {string} label
 * @property {boolean} available
 * @property {string} [reason]
 */

/**
 * @typedef {object} Target
 * @property {string} id
 * @property {string} text
 * @property {string} scenario
 * @property {string} subject          contender id
 * @property {string} [versus]         contender id for a ratio target; absent for an absolute one
 * @property {number} goal
 * @property {'min' | 'max'} kind      min: measured must be ≥ goal; max: ≤ goal
 */

/**
 * @typedef {object} TargetResult
 * @property {string} id
 * @property {string} text
 * @property {number} measured         NaN when a side is missing
 * @property {number} goal
 * @property {'min' | 'max'} kind
 * @property {'met' | 'missed' | 'unknown'} status
 * @property {number} [shortfallPct]   how far from the goal, in % of the goal (missed only)
 * @property {string} [why]            why it is unknown
 */

/**
 * @typedef {object} ProfileSummary   where one contender's time went under one scenario's load
 * @property {string} contender
 * @property {string} scenario
 * @property {string} file             the .cpuprofile (not committed)
 * @property {string} top              summarizeProfile's text
 */

/**
 * Fills in median, p50/p99 (medians over rounds), summed errors and the ratio to the baseline
 * for every cell of a scenario. Returns the same object.
 * @param {Scenario} scenario
 * @param {string} [baseline]
 * @returns {Scenario}
 */
export function summarize(scenario, baseline = BASELINE) {
  for (const cell of Object.values(scenario.cells)) {
    if (cell.skipped || cell.runs.length === 0) continue;
    cell.median = median(cell.runs.map((r) => r.value));
    const p50 = cell.runs.map((r) => r.p50Ms ?? Number.NaN);
    const p99 = cell.runs.map((r) => r.p99Ms ?? Number.NaN);
    cell.p50Ms = median(p50);
    cell.p99Ms = median(p99);
    cell.errors = cell.runs.reduce((sum, r) => sum + (r.errors ?? 0), 0);
  }
  const base = scenario.cells[baseline];
  for (const cell of Object.values(scenario.cells)) {
    if (cell.median === undefined) continue;
    cell.ratio = ratio(cell.median, base?.median);
  }
  return scenario;
}

/**
 * Evaluates the targets against summarized scenarios.
 * @param {readonly Target[]} targets
 * @param {readonly Scenario[]} scenarios
 * @returns {TargetResult[]}
 */
export function evaluateTargets(targets, scenarios) {
  return targets.map((t) => {
    const sc = scenarios.find((s) => s.id === t.scenario);
    const subject = sc?.cells[t.subject];
    const versus = t.versus ? sc?.cells[t.versus] : undefined;
    const measured = t.versus ? ratio(subject?.median, versus?.median) : (subject?.median ?? Number.NaN);
    /** @type {TargetResult} */
    const r = { id: t.id, text: t.text, measured, goal: t.goal, kind: t.kind, status: 'unknown' };
    if (!Number.isFinite(measured)) {
      const missing = [!Number.isFinite(subject?.median ?? Number.NaN) ? t.subject : null]
        .concat(t.versus && !Number.isFinite(versus?.median ?? Number.NaN) ? [t.versus] : [])
        .filter(Boolean);
      r.why = `no measurement for ${missing.join(' and ') || t.subject}`;
      return r;
    }
    const met = t.kind === 'min' ? measured >= t.goal : measured <= t.goal;
    r.status = met ? 'met' : 'missed';
    if (!met) r.shortfallPct = (Math.abs(measured - t.goal) / t.goal) * 100;
    return r;
  });
}

/**
 * A metric value formatted for its unit.
 * @param {number} v
 * @param {string} unit
 * @returns {string}
 */
export function formatValue(v, unit) {
  if (unit === 'req/s') return formatNumber(v, 0);
  return formatNumber(v, v < 100 ? 2 : 0);
}

/**
 * @param {readonly string[]} cells
 * @returns {string}
 */
function row(cells) {
  return `| ${cells.join(' | ')} |`;
}

/**
 * The Markdown tables of a results document: throughput/memory with ratios to node:http,
 * latency percentiles, targets, notes (unavailable contenders, errors) and, for missed targets,
 * where the time goes.
 * @param {{ meta: Record<string, any>, contenders: Contender[], scenarios: Scenario[], targets: TargetResult[], profiles?: ProfileSummary[] }} results
 * @returns {string}
 */
export function renderMarkdown(results) {
  const { meta, scenarios, targets } = results;
  const contenders = results.contenders;
  const labels = Object.fromEntries(contenders.map((c) => [c.id, c.label]));
  const baseLabel = labels[BASELINE] ?? BASELINE;
  const out = [];
  out.push(
    `Run of ${meta.date ?? '?'} on ${meta.cpus ?? '?'} cores (${meta.cpuModel ?? 'unknown CPU'}), Node ${meta.node ?? '?'}` +
      `${meta.tornado ? `, Tornado ${meta.tornado}` : ''}; ${meta.rounds ?? '?'} rounds of ${meta.durationS ?? '?'} s per contender ` +
      `and scenario, alternated; medians. Server pinned to CPU ${meta.serverCpu ?? '–'}, load generator to CPU ${meta.clientCpu ?? '–'}.` +
      `${meta.loadAverage ? ` Load average ${meta.loadAverage[0]} before, ${meta.loadAverage[1]} after.` : ''}` +
      `${meta.quick ? ' **Quick run: the numbers are not meaningful.**' : ''}`,
  );
  out.push('');
  out.push(
    `Each cell: median, then the ratio to ${baseLabel} in the same run (for memory, lower is better).`,
  );
  out.push('');
  out.push(row(['scenario', 'unit', ...contenders.map((c) => c.label)]));
  out.push(row(['---', '---', ...contenders.map(() => '---:')]));
  for (const sc of scenarios) {
    const cells = contenders.map((c) => {
      const cell = sc.cells[c.id];
      if (!cell) return 'n/a';
      if (cell.skipped) return cell.skipped.startsWith('n/a') ? 'n/a' : '–';
      if (cell.median === undefined || !Number.isFinite(cell.median)) return 'failed';
      const warn = cell.errors ? ` ⚠${cell.errors}` : '';
      if (c.id === BASELINE) return `${formatValue(cell.median, sc.unit)}${warn}`;
      return `${formatValue(cell.median, sc.unit)} · ${formatRatio(cell.ratio ?? Number.NaN)}${warn}`;
    });
    out.push(row([sc.title, sc.unit, ...cells]));
  }
  const latencyScenarios = scenarios.filter((s) => s.latency);
  if (latencyScenarios.length > 0) {
    out.push('');
    out.push('Latency under that load (wrk --latency), p50 / p99:');
    out.push('');
    out.push(row(['scenario', ...contenders.map((c) => c.label)]));
    out.push(row(['---', ...contenders.map(() => '---:')]));
    for (const sc of latencyScenarios) {
      const cells = contenders.map((c) => {
        const cell = sc.cells[c.id];
        if (!cell || cell.skipped || cell.p50Ms === undefined)
          return cell && !cell.skipped ? 'failed' : 'n/a';
        return `${formatMs(cell.p50Ms)} / ${formatMs(cell.p99Ms ?? Number.NaN)}`;
      });
      out.push(row([sc.title, ...cells]));
    }
  }
  if (targets.length > 0) {
    out.push('');
    out.push(row(['target', 'measured', 'status']));
    out.push(row(['---', '---:', '---']));
    for (const t of targets) {
      const measured = t.id.startsWith('idle')
        ? `${formatNumber(t.measured, 2)} KB`
        : formatRatio(t.measured);
      let status = '';
      if (t.status === 'met') status = '✅ met';
      else if (t.status === 'missed')
        status = `❌ missed by ${formatNumber(t.shortfallPct ?? Number.NaN, 0)} %`;
      else status = `❔ ${t.why ?? 'unknown'}`;
      out.push(row([t.text, Number.isFinite(t.measured) ? measured : '–', status]));
    }
  }
  const notes = [];
  for (const c of contenders) {
    if (!c.available) notes.push(`${c.label}: not available — ${c.reason ?? 'unknown reason'}`);
  }
  for (const sc of scenarios) {
    for (const [id, cell] of Object.entries(sc.cells)) {
      const label = labels[id] ?? id;
      const available = contenders.find((c) => c.id === id)?.available;
      if (cell.skipped && available && !cell.skipped.startsWith('n/a'))
        notes.push(`${sc.title}, ${label}: ${cell.skipped}`);
      if (cell.errors)
        notes.push(`${sc.title}, ${label}: ${cell.errors} errors (socket errors or bad responses)`);
      for (const r of cell.runs) if (r.note) notes.push(`${sc.title}, ${label}: ${r.note}`);
    }
  }
  for (const n of meta.notes ?? []) notes.push(n);
  if (notes.length > 0) {
    out.push('');
    out.push('Notes:');
    out.push('');
    for (const n of [...new Set(notes)]) out.push(`- ${n}`);
  }
  if (results.profiles?.length) {
    out.push('');
    out.push(
      'Where the time goes, for the missed targets (`node --cpu-prof` of a fresh server process, start-up included, during one more run of the load — three transfers for downloads/uploads; self time, % of busy time):',
    );
    for (const p of results.profiles) {
      out.push('');
      out.push(`${p.contender}, ${p.scenario}:`);
      out.push('');
      out.push('```text');
      out.push(p.top);
      out.push('```');
    }
  }
  return out.join('\n');
}

/**
 * Replaces what lies between the README markers with `table` (the markers stay).
 * Throws when the markers are missing or out of order.
 * @param {string} readme
 * @param {string} table
 * @returns {string}
 */
export function replaceBetweenMarkers(readme, table) {
  const start = readme.indexOf(README_START);
  const end = readme.indexOf(README_END);
  if (start < 0 || end < 0 || end < start) {
    throw new Error(`README markers ${README_START} … ${README_END} not found`);
  }
  return `${readme.slice(0, start + README_START.length)}\n${table.trim()}\n${readme.slice(end)}`;
}
