// `npm run bench`: every benchmark in one run on one machine. Starts its own Temporal dev server
// (on disk, WAL, like `slipway up`) and uses the local registry, runs each section, prints one table
// with targets and ratios, and writes the figures to bench/results/latest.json.
// `npm run bench -- overhead intake` runs only the named sections, always in the order below:
// intake comes last because it leaves thousands of started pipelines that no worker should take.
import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { projectRoot, stateDir } from '../common/paths';
import { freePort } from '../dev/process';
import { startRegistry, type Registry } from '../dev/registry';
import { startTemporalDevServer, type DevServer } from '../dev/temporal';
import type { BenchContext, BenchResult, BenchSection } from './types';

const sections: Record<string, () => Promise<{ default: BenchSection }>> = {
  overhead: () => import('./overhead'),
  'approve-latency': () => import('./approve-latency'),
  scale: () => import('./scale'),
  'vs-script': () => import('./vs-script'),
  'build-cache': () => import('./build-cache'),
  intake: () => import('./intake'),
};

function printTable(results: BenchResult[]): void {
  const rows = results.map((r) => [
    r.section,
    r.metric,
    r.value,
    r.target ?? '',
    r.met === undefined ? '' : r.met ? 'met' : 'MISSED',
  ]);
  const header = ['section', 'metric', 'value', 'target', ''];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => String(r[i]).length)));
  const line = (cells: string[]) => cells.map((c, i) => String(c).padEnd(widths[i] as number)).join('  ');
  console.log('\n' + line(header));
  console.log(widths.map((w) => '-'.repeat(w)).join('  '));
  for (const r of rows) console.log(line(r.map(String)));
}

async function main(): Promise<void> {
  const wanted = process.argv.slice(2);
  const unknown = wanted.filter((n) => !sections[n]);
  if (unknown.length)
    throw new Error(`unknown bench section ${unknown.join(', ')}: expected ${Object.keys(sections).join(', ')}`);
  const names = Object.keys(sections).filter((n) => wanted.length === 0 || wanted.includes(n));

  let temporal: DevServer | undefined;
  let registry: Registry | undefined;
  let connection: Connection | undefined;
  const results: BenchResult[] = [];
  const runId = randomBytes(3).toString('hex');
  const dbFile = path.join(stateDir, `bench-${runId}.db`);
  try {
    registry = process.env.SLIPWAY_REGISTRY ? undefined : await startRegistry(5000);
    temporal = await startTemporalDevServer({
      port: await freePort(),
      uiPort: await freePort(),
      dbFile,
      name: 'temporal-bench',
    });
    connection = await Connection.connect({ address: temporal.address });
    const ctx: BenchContext = {
      temporalAddress: temporal.address,
      temporalPid: temporal.process.child.pid!,
      registry: process.env.SLIPWAY_REGISTRY ?? registry!.address,
      client: new Client({ connection }),
      runId,
    };
    process.env.TEMPORAL_ADDRESS = temporal.address;
    process.env.SLIPWAY_REGISTRY = ctx.registry;
    for (const name of names) {
      console.log(`[bench] ${name} ...`);
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
    await temporal?.process.stop();
    await registry?.process?.stop();
    for (const suffix of ['', '-wal', '-shm']) rmSync(dbFile + suffix, { force: true });
  }
  printTable(results);
  const loadavg = readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
  console.log(`\n[bench] load average at the end (1/5/15 min): ${loadavg} on ${os.cpus().length} cores`);
  const dir = path.join(projectRoot, 'bench', 'results');
  mkdirSync(dir, { recursive: true });
  writeFileSync(
    path.join(dir, 'latest.json'),
    JSON.stringify({ at: new Date().toISOString(), cores: os.cpus().length, loadavg, results }, null, 2) + '\n',
  );
  console.log(`\n[bench] figures written to ${path.join(dir, 'latest.json')}`);
}

main().catch((err: unknown) => {
  console.error(`[bench] ${(err as Error).message}`);
  process.exit(1);
});
