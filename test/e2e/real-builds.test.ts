// The examples with real dependencies delivered end to end on the real stack: a Maven service
// (Maven Central), a pyproject service (PyPI) and a pnpm TypeScript service (npm registry), each
// built by the build worker from Slipway's template, pushed once, and walked through test,
// integration and an approved production on the Marathon emulator in containers mode, where its
// production tasks answer /version with the commit. One stack per example, one after the other.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { ServiceType } from '../../common/config';
import { approveAndFinish, runPipeline, stopStack } from '../chaos/driver';
import { quietTemporalRuntime } from '../helpers/runtime';
import { headCommit, startStack } from '../helpers/stack';

quietTemporalRuntime();

const examples: { example: string; type: ServiceType; buildCommand?: string; startCommand?: string }[] = [
  { example: 'hello-maven', type: 'java' },
  { example: 'hello-pyproject', type: 'python', startCommand: 'hello-pyproject' },
  { example: 'hello-pnpm', type: 'node', buildCommand: 'pnpm run build' },
];

for (const { example, ...settings } of examples) {
  test(`${example} is built with its dependencies and delivered to production`, async () => {
    const stack = await startStack({ marathonMode: 'containers', example, healthTimeout: '180s', ...settings });
    try {
      stack.startWorker('deploy');
      stack.startWorker('build');
      const commit = headCommit(stack.repoDir);
      const started = Date.now();
      const status = await approveAndFinish(stack, await runPipeline(stack.client, stack.service, commit));
      console.log(`[real-builds] ${example} delivered in ${Math.round((Date.now() - started) / 1000)} s`);
      const res = await fetch(`${stack.marathonUrl}/v2/apps/production/${stack.service}?embed=app.tasks`);
      const { app } = (await res.json()) as { app: { tasks: { host: string; ports: number[] }[] } };
      assert.equal(app.tasks.length, 2, 'production runs two instances');
      for (const task of app.tasks) {
        const version = (await (await fetch(`http://${task.host}:${task.ports[0]}/version`)).json()) as object;
        assert.deepEqual(version, { service: example, version: '1.0.0', commit });
      }
      assert.match(status.image ?? '', new RegExp(`/${stack.service}@sha256:[0-9a-f]{64}$`));
    } finally {
      await stopStack(stack);
    }
  });
}
