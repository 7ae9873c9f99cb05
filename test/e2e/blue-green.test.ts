// Zero downtime on the real stack: hello-node built by the build worker (Docker engine), pushed to
// the registry, deployed by real workflows on the Temporal dev server to the Marathon emulator in
// containers mode, with `strategy: blue-green`. Clients call the service through the emulator's
// stand-in for marathon-lb on the deployment group's port (HAPROXY_0_PORT) without pause while
// version 2.0.0 replaces 1.0.0, colour by colour; the deploy worker is SIGKILLed in the middle of
// the switch and a new one resumes it. Not one request may fail.
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { freePort } from '../../common/free-port';
import { laneQuery, laneWorkflowId, type PipelineStatus } from '../../common/contract';
import { finalStatus, runPipeline } from '../chaos/driver';
import { quietTemporalRuntime } from '../helpers/runtime';
import { startStack, type Stack } from '../helpers/stack';
import { until } from '../helpers/wait';

quietTemporalRuntime();

let stack: Stack;
let servicePort: number;

/** One environment, blue/green, two instances behind the group's port. */
function writeConfig(altServicePort: number): void {
  writeFileSync(
    path.join(stack.configDir, 'slipway.yaml'),
    [
      `registry: ${readFileSync(path.join(stack.configDir, 'slipway.yaml'), 'utf8').match(/^registry: (.*)$/m)?.[1]}`,
      'environments:',
      '  - name: production',
      `    marathon: ${stack.marathonUrl}`,
      '    healthTimeout: 90s',
      '    strategy: { type: blue-green, drain: 3s }',
      '',
    ].join('\n'),
  );
  writeFileSync(
    path.join(stack.configDir, 'services', `${stack.service}.yaml`),
    [
      `name: ${stack.service}`,
      'type: node',
      `repository: ${stack.repoDir}`,
      'app:',
      '  instances: 2',
      '  mem: 128',
      '  port: 8080',
      `  servicePort: ${servicePort}`,
      `  altServicePort: ${altServicePort}`,
      '  healthCheck: { path: /health, gracePeriodSeconds: 15, intervalSeconds: 1, timeoutSeconds: 1, maxConsecutiveFailures: 3 }',
      '',
    ].join('\n'),
  );
}

before(async () => {
  stack = await startStack({ marathonMode: 'containers', example: 'hello-node' });
  servicePort = await freePort();
  writeConfig(await freePort());
  stack.startWorker('deploy');
  stack.startWorker('build');
});

after(async () => {
  await stack?.stop();
});

async function deliver(commit: string): Promise<PipelineStatus> {
  const status = await finalStatus(stack.client, await runPipeline(stack.client, stack.service, commit));
  assert.equal(status.state, 'succeeded', status.error);
  return status;
}

/** Calls the group's port back to back (two clients) until stopped; counts answers by version and failures. */
function callWithoutPause() {
  const seen: Record<string, number> = {};
  const failures: string[] = [];
  let sent = 0;
  let running = true;
  const client = async () => {
    while (running) {
      sent++;
      try {
        const res = await fetch(`http://127.0.0.1:${servicePort}/`, { signal: AbortSignal.timeout(5000) });
        const text = await res.text();
        const version = /hello-node (\d+\.\d+\.\d+)/.exec(text)?.[1];
        if (res.status !== 200 || !version) failures.push(`${res.status}: ${text.slice(0, 80)}`);
        else seen[version] = (seen[version] ?? 0) + 1;
      } catch (err) {
        failures.push(String((err as Error).cause ?? err));
      }
    }
  };
  const started = Date.now();
  const clients = Promise.all([client(), client()]);
  return {
    seen,
    failures,
    async stop() {
      running = false;
      await clients;
      return { sent, seconds: (Date.now() - started) / 1000 };
    },
  };
}

test(
  'blue/green: zero failed requests through the load balancer while 2.0.0 replaces 1.0.0 (worker killed mid-switch)',
  { timeout: 300_000 },
  async () => {
    const first = await deliver(stack.commit('hello-node 1.0.0'));
    const lane = stack.client.workflow.getHandle(laneWorkflowId(stack.service, 'production'));
    assert.equal((await lane.query(laneQuery)).current?.live?.colour, 'blue');
    await until('the load balancer to serve 1.0.0', 30_000, async () => {
      const res = await fetch(`http://127.0.0.1:${servicePort}/`).catch(() => undefined);
      return res?.status === 200 && (await res.text()).includes('1.0.0') ? true : undefined;
    });

    const load = callWithoutPause();
    const second = stack.commit('hello-node 2.0.0', (dir) => {
      const file = path.join(dir, 'src', 'server.js');
      writeFileSync(file, readFileSync(file, 'utf8').replace("VERSION = '1.0.0'", "VERSION = '2.0.0'"));
    });
    const id = await runPipeline(stack.client, stack.service, second);
    // Both colours serve: kill the deploy worker while marathon-lb drains blue, start another.
    await until(
      'the switch to drain blue',
      180_000,
      async () => {
        const step = (await lane.query(laneQuery)).strategyStep;
        return step?.startsWith('switch: green') && step.endsWith('draining') ? step : undefined;
      },
      { intervalMs: 200 },
    );
    await stack.killWorkers('SIGKILL');
    stack.startWorker('deploy');
    stack.startWorker('build');
    const status = await finalStatus(stack.client, id);
    assert.equal(status.state, 'succeeded', status.error);
    // A moment of traffic on green alone, then the figures.
    await new Promise((r) => setTimeout(r, 1000));
    const { sent, seconds } = await load.stop();

    const state = await lane.query(laneQuery);
    assert.equal(state.current?.live?.colour, 'green');
    assert.equal(state.history[0]?.image, first.image);
    const apps = (await (await fetch(`${stack.marathonUrl}/v2/apps`)).json()) as { apps: { id: string }[] };
    assert.deepEqual(
      apps.apps.map((a) => a.id),
      [`/production/${stack.service}-green`],
      'blue is deleted',
    );
    console.log(
      `[blue-green] ${sent} requests in ${seconds.toFixed(1)} s (${(sent / seconds).toFixed(0)}/s) through 127.0.0.1:${servicePort}: ` +
        `${load.failures.length} failed (${((100 * load.failures.length) / sent).toFixed(2)} %); answered by 1.0.0: ${load.seen['1.0.0'] ?? 0}, by 2.0.0: ${load.seen['2.0.0'] ?? 0}`,
    );
    assert.deepEqual(load.failures, [], 'no request failed during the switch');
    assert.ok(
      (load.seen['1.0.0'] ?? 0) > 0 && (load.seen['2.0.0'] ?? 0) > 0,
      'both versions answered during the switch',
    );
  },
);
