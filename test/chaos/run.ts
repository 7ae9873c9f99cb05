// `npm run chaos [-- --pipelines N --seed S --max-kills K --containers --temporal postgres]`: the
// chaos run of test/chaos/chaos.ts on a Temporal server of its own (the dev server in memory, or
// the production server on a temporary PostgreSQL; free ports) and the local
// registry (SLIPWAY_REGISTRY, else one on :5000, started if none answers). Prints the figures and
// exits non-zero on a duplicate deployment, a lost approval or a pipeline that did not complete.
import { parseArgs } from 'node:util';
import { freePort } from '../../dev/process';
import { startRegistry, type Registry } from '../../dev/registry';
import { parseTemporalKind, startTemporal, type RunningTemporal } from '../../dev/temporal-kind';
import { quietTemporalRuntime } from '../helpers/runtime';
import { chaosProblems, formatChaosReport, runChaos } from './chaos';

function positiveInt(name: string, value: string | undefined, fallback: number, min = 1): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n < min) throw new Error(`--${name} ${value}: expected a whole number >= ${min}`);
  return n;
}

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      pipelines: { type: 'string' },
      seed: { type: 'string' },
      'max-kills': { type: 'string' },
      'timeout-minutes': { type: 'string' },
      containers: { type: 'boolean' },
      temporal: { type: 'string' },
      help: { type: 'boolean' },
    },
  });
  if (values.help) {
    console.log(
      'usage: npm run chaos -- [--pipelines 10] [--seed <n>] [--max-kills <n>] [--timeout-minutes 20] [--containers] [--temporal dev|postgres]',
    );
    return 0;
  }
  const pipelines = positiveInt('pipelines', values.pipelines, 10);
  const seed = positiveInt('seed', values.seed, Date.now() % 1_000_000, 0);
  const maxKills = values['max-kills'] === undefined ? undefined : positiveInt('max-kills', values['max-kills'], 1);
  const timeoutMs = positiveInt('timeout-minutes', values['timeout-minutes'], 20) * 60_000;
  const kind = parseTemporalKind(values.temporal, '--temporal');

  quietTemporalRuntime();
  process.env.SLIPWAY_LOG_LEVEL ??= 'warn';
  let temporal: RunningTemporal | undefined;
  let registry: Registry | undefined;
  try {
    if (!process.env.SLIPWAY_REGISTRY) {
      registry = await startRegistry(5000);
      process.env.SLIPWAY_REGISTRY = registry.address;
    }
    temporal = await startTemporal(kind, {
      port: await freePort(),
      uiPort: kind === 'dev' ? await freePort() : undefined,
      name: 'temporal-chaos',
    });
    process.env.TEMPORAL_ADDRESS = temporal.address;
    console.log(
      `[chaos] Temporal ${kind} ${temporal.address} (UI ${temporal.uiUrl ?? 'none'}), registry ${process.env.SLIPWAY_REGISTRY}`,
    );
    const report = await runChaos({
      pipelines,
      seed,
      maxKills,
      timeoutMs,
      marathonMode: values.containers ? 'containers' : 'simulated',
    });
    console.log(formatChaosReport(report));
    const problems = chaosProblems(report);
    if (problems.length > 0) {
      console.error(`[chaos] FAILED (seed ${seed}): ${problems.join('; ')}`);
      return 1;
    }
    console.log(`[chaos] OK (seed ${seed})`);
    return 0;
  } finally {
    await temporal?.stop();
    await registry?.process?.stop();
  }
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    console.error(
      `[chaos] ${process.env.SLIPWAY_DEBUG ? ((err as Error).stack ?? String(err)) : (err as Error).message}`,
    );
    process.exit(1);
  },
);
