// Where the time goes: self time per function of a V8 .cpuprofile (`node --cpu-prof`). Pure.

/**
 * @typedef {object} ProfileNode
 * @property {number} id
 * @property {{ functionName: string, url: string, lineNumber: number }} callFrame
 * @property {number[]} [children]
 */

/**
 * Aggregates self time by function and renders the top `limit` lines as text
 * ("  23.4 %  functionName  file:line"), in % of the busy time: `(idle)` samples (the process
 * waiting for I/O, e.g. while other contenders are measured) are left out.
 * @param {{ nodes: ProfileNode[], samples?: number[], timeDeltas?: number[] }} profile
 * @param {number} [limit]
 * @returns {string}
 */
export function summarizeProfile(profile, limit = 20) {
  /** @type {Map<number, ProfileNode>} */
  const nodes = new Map(profile.nodes.map((n) => [n.id, n]));
  /** @type {Map<string, number>} */
  const self = new Map();
  const samples = profile.samples ?? [];
  const deltas = profile.timeDeltas ?? [];
  let total = 0;
  for (let i = 0; i < samples.length; i++) {
    const node = nodes.get(/** @type {number} */ (samples[i]));
    if (!node) continue;
    const dt = Math.max(0, deltas[i] ?? 0);
    const f = node.callFrame;
    if (f.functionName === '(idle)') continue;
    const where = f.url
      ? `${f.url.replace(/^.*\/(node_modules|packages)\//, '$1/').replace(/^file:\/\//, '')}:${f.lineNumber + 1}`
      : '';
    const key = `${f.functionName || '(anonymous)'}  ${where}`.trim();
    self.set(key, (self.get(key) ?? 0) + dt);
    total += dt;
  }
  if (total === 0) return '  (no samples)';
  return [...self.entries()]
    .sort((a, b) => b[1] - a[1])
    .slice(0, limit)
    .map(([key, t]) => `  ${((t / total) * 100).toFixed(1).padStart(5)} %  ${key}`)
    .join('\n');
}
