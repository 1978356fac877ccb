#!/usr/bin/env node
// Every changeset must parse and name only packages of this repo that are published (not the
// ignored demo/bench): a broken front matter would otherwise surface only at release time.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import parse from '@changesets/parse';

const dir = '.changeset';
const config = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8'));
const names = new Set(
  readdirSync('packages').map(
    (p) => JSON.parse(readFileSync(join('packages', p, 'package.json'), 'utf8')).name,
  ),
);
let bad = 0;
for (const file of readdirSync(dir).filter((f) => f.endsWith('.md') && f !== 'README.md')) {
  try {
    const { releases, summary } = parse(readFileSync(join(dir, file), 'utf8'));
    if (releases.length === 0) throw new Error('names no package');
    if (!summary.trim()) throw new Error('has no summary');
    for (const { name, type } of releases) {
      if (!names.has(name) || config.ignore.includes(name)) throw new Error(`names unknown package ${name}`);
      if (!['patch', 'minor', 'major'].includes(type)) throw new Error(`bad bump ${type} for ${name}`);
    }
  } catch (err) {
    bad++;
    console.error(`${dir}/${file}: ${err.message.split('\n')[0]}`);
  }
}
if (bad) process.exit(1);
console.log('changesets ok');
