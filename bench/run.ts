// `npm run bench`: every benchmark in one run on one machine. Starts its own Temporal dev server
// (on disk, WAL, like `slipway up`) and uses the local registry, runs each section, prints one table
// with targets and ratios, and writes the figures to bench/results/latest.json.
// `npm run bench -- overhead intake` runs only the named sections, always in the order below:
// intake comes last because it leaves thousands of started pipelines that no worker should take.
// `npm run bench -- --temporal postgres [sections]` runs the sections (default: overhead, scale,
// intake) on the dev server and then on the production server on PostgreSQL (each started fresh
// for the run) and prints the figures side by side; they go to bench/results/latest-postgres.json.
import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { Client, Connection } from '@temporalio/client';
import { projectRoot, stateDir } from '../common/paths';
import { freePort } from '../dev/process';
import { startRegistry, type Registry } from '../dev/registry';
import {
  parseTemporalKind,
  startTemporal,
  temporalKinds,
  type RunningTemporal,
  type TemporalKind,
} from '../dev/temporal-kind';
import type { BenchContext, BenchResult, BenchSection } from './types';

const sections: Record<string, () => Promise<{ default: BenchSection }>> = {
  overhead: () => import('./overhead'),
  'approve-latency': () => import('./approve-latency'),
  scale: () => import('./scale'),
  'vs-script': () => import('./vs-script'),
  'build-cache': () => import('./build-cache'),
  intake: () => import('./intake'),
};
/** What `--temporal postgres` runs by default: the sections whose figures the server bounds. */
const comparedSections = ['overhead', 'scale', 'intake'];

function printTable(header: string[], rows: string[][]): void {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => String(r[i]).length)));
  const line = (cells: string[]) => cells.map((c, i) => String(c).padEnd(widths[i] as number)).join('  ');
  console.log('\n' + line(header));
  console.log(widths.map((w) => '-'.repeat(w)).join('  '));
  for (const r of rows) console.log(line(r.map(String)));
}

const verdict = (r: BenchResult | undefined) => (r?.met === undefined ? '' : r.met ? 'met' : 'MISSED');

function printResults(results: BenchResult[]): void {
  printTable(
    ['section', 'metric', 'value', 'target', ''],
    results.map((r) => [r.section, r.metric, String(r.value), r.target ?? '', verdict(r)]),
  );
}

/** One row per metric, one column per server: the same figure on the dev server and on PostgreSQL. */
function printSideBySide(byKind: Partial<Record<TemporalKind, BenchResult[]>>): void {
  const kinds = temporalKinds.filter((k) => byKind[k]);
  const key = (r: BenchResult) => `${r.section}\u0000${r.metric}`;
  const rows = new Map<string, BenchResult>();
  for (const k of kinds) for (const r of byKind[k]!) if (!rows.has(key(r))) rows.set(key(r), r);
  const find = (k: TemporalKind, row: BenchResult) => byKind[k]!.find((r) => key(r) === key(row));
  const cell = (r: BenchResult | undefined) => (r ? `${r.value}${r.met === false ? ' (MISSED)' : ''}` : '');
  printTable(
    [
      'section',
      'metric',
      ...kinds.map((k) => (k === 'dev' ? 'dev server (SQLite)' : 'server on PostgreSQL')),
      'target',
    ],
    [...rows.values()].map((row) => [
      row.section,
      row.metric,
      ...kinds.map((k) => cell(find(k, row))),
      row.target ?? '',
    ]),
  );
}

/** Runs the named sections, in order, on a Temporal server of the given kind started for them. */
async function runOn(kind: TemporalKind, names: string[], runId: string): Promise<BenchResult[]> {
  let temporal: RunningTemporal | undefined;
  let registry: Registry | undefined;
  let connection: Connection | undefined;
  const results: BenchResult[] = [];
  const dbFile = path.join(stateDir, `bench-${runId}.db`);
  try {
    registry = process.env.SLIPWAY_REGISTRY ? undefined : await startRegistry(5000);
    temporal = await startTemporal(kind, {
      port: await freePort(),
      uiPort: kind === 'dev' ? await freePort() : undefined,
      dataPath: kind === 'dev' ? dbFile : undefined, // postgres: a temporary cluster
      name: `temporal-bench-${kind}`,
    });
    console.log(`[bench] Temporal ${kind === 'dev' ? 'dev server' : 'server on PostgreSQL'} at ${temporal.address}`);
    connection = await Connection.connect({ address: temporal.address });
    const ctx: BenchContext = {
      temporalAddress: temporal.address,
      temporalPid: temporal.serverPid(),
      registry: process.env.SLIPWAY_REGISTRY ?? registry!.address,
      client: new Client({ connection }),
      runId: `${runId}${kind === 'dev' ? '' : kind[0]}`,
    };
    process.env.TEMPORAL_ADDRESS = temporal.address;
    process.env.SLIPWAY_REGISTRY = ctx.registry;
    for (const name of names) {
      console.log(`[bench] ${name} on ${kind} ...`);
      const started = Date.now();
      try {
        const section = (await sections[name]!()).default;
        const out = await section(ctx);
        results.push(...out);
        console.log(`[bench] ${name} done in ${((Date.now() - started) / 1000).toFixed(1)} s`);
      } catch (err) {
        console.error(`[bench] ${name} failed: ${(err as Error).stack ?? String(err)}`);
        results.push({ section: name, metric: 'error', value: (err as Error).message.slice(0, 80), met: false });
      }
    }
  } finally {
    await connection?.close();
    await temporal?.stop();
    await registry?.process?.stop();
    for (const suffix of ['', '-wal', '-shm']) rmSync(dbFile + suffix, { force: true });
  }
  return results;
}

async function main(): Promise<void> {
  const { values, positionals: wanted } = parseArgs({
    options: { temporal: { type: 'string' } },
    allowPositionals: true,
  });
  const kind = parseTemporalKind(values.temporal, '--temporal');
  const unknown = wanted.filter((n) => !sections[n]);
  if (unknown.length)
    throw new Error(`unknown bench section ${unknown.join(', ')}: expected ${Object.keys(sections).join(', ')}`);
  const defaults = kind === 'dev' ? Object.keys(sections) : comparedSections;
  const names = Object.keys(sections).filter((n) => (wanted.length === 0 ? defaults : wanted).includes(n));

  const runId = randomBytes(3).toString('hex');
  // --temporal postgres runs every section on both servers, the dev server first.
  const kinds: TemporalKind[] = kind === 'dev' ? ['dev'] : ['dev', kind];
  const byKind: Partial<Record<TemporalKind, BenchResult[]>> = {};
  for (const k of kinds) byKind[k] = await runOn(k, names, runId);
  if (kinds.length === 1) printResults(byKind.dev!);
  else printSideBySide(byKind);
  const loadavg = readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
  console.log(`\n[bench] load average at the end (1/5/15 min): ${loadavg} on ${os.cpus().length} cores`);
  const dir = path.join(projectRoot, 'bench', 'results');
  mkdirSync(dir, { recursive: true });
  const file = path.join(dir, kind === 'dev' ? 'latest.json' : `latest-${kind}.json`);
  const results = kinds.length === 1 ? byKind.dev : byKind;
  writeFileSync(
    file,
    JSON.stringify({ at: new Date().toISOString(), cores: os.cpus().length, loadavg, results }, null, 2) + '\n',
  );
  console.log(`\n[bench] figures written to ${file}`);
}

main().catch((err: unknown) => {
  console.error(`[bench] ${(err as Error).message}`);
  process.exit(1);
});
