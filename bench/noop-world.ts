// The world of the overhead and approve-latency sections: a Marathon emulator in simulated mode
// with instant health, a deploy config of `count` services through test -> integration ->
// production (production gated when approvers are given), and one bench worker whose checkout,
// build and push are no-ops returning a pre-pushed tiny image. Everything else is real.
import path from 'node:path';
import { startMarathonEmulator, type MarathonEmulator } from '../dev/marathon-emulator';
import { benchTempDir, ensureNoopImage, standardEnvironments, writeDeployConfig } from './fixtures';
import { startBenchWorker } from './processes';
import type { BenchContext } from './types';

export interface NoopWorld {
  emulator: MarathonEmulator;
  services: string[];
  stop(): Promise<void>;
}

export async function startNoopWorld(
  ctx: BenchContext,
  section: string,
  opts: { prefix: string; count: number; approvers?: string[] },
): Promise<NoopWorld> {
  const emulator = await startMarathonEmulator({
    mode: 'simulated',
    simulatedHealthyAfterMs: 0,
    simulatedLaunchMs: 0,
    tickMs: 10,
    timeScale: 0.01,
  });
  try {
    const noop = ensureNoopImage(ctx.registry);
    const services = Array.from({ length: opts.count }, (_, i) => `${opts.prefix}-${ctx.runId}-${i}`);
    const configDir = writeDeployConfig(path.join(benchTempDir(section), 'config'), {
      registry: ctx.registry,
      marathonUrl: emulator.url,
      environments: standardEnvironments(opts.approvers),
      services: services.map((name) => ({ name })),
    });
    const worker = await startBenchWorker(
      section,
      { roles: ['deploy', 'build'], noop, marathonPollMs: 50 },
      { SLIPWAY_CONFIG_DIR: configDir, SLIPWAY_BUILD_HOST_ID: `bench-${section}-${ctx.runId}` },
    );
    return {
      emulator,
      services,
      async stop() {
        await worker.stop();
        await emulator.close();
      },
    };
  } catch (err) {
    await emulator.close();
    throw err;
  }
}
