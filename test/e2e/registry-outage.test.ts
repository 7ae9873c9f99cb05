// A registry restart in the middle of a delivery: the push is retried (for about five minutes)
// instead of failing the pipeline, and the image lands once the registry is back. The test runs
// its own registry on a free port so the harness's registry is never touched.
import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { sendDecision, startPipeline } from '../../client/pipelines';
import type { PipelineStatus } from '../../common/contract';
import { freePort } from '../../dev/process';
import { startRegistry, type Registry } from '../../dev/registry';
import { activityAttempts } from '../chaos/driver';
import { startStack, type Stack } from '../helpers/stack';
import { until } from '../helpers/wait';

let stack: Stack | undefined;
let registry: Registry | undefined;
after(async () => {
  await stack?.stop();
  await registry?.process?.stop();
});

test('a push that meets a stopped registry waits for it, and the pipeline completes', async () => {
  const port = await freePort();
  registry = await startRegistry(port, 'registry-outage');
  stack = await startStack({ marathonMode: 'simulated', example: 'hello-node', registry: registry.address });
  const s = stack;
  s.startWorker('deploy');
  s.startWorker('build');

  await registry.process!.stop(); // down before the pipeline reaches its push
  const commit = s.commit('registry outage');
  const { workflowId } = await startPipeline(s.client, {
    service: s.service,
    commit,
    trigger: { kind: 'manual', user: 'e2e' },
  });
  const handle = s.client.workflow.getHandle(workflowId);

  // The push fails against the stopped registry and is retried past the 3 attempts other build steps get.
  const attempts = await until('the push to be retried', 180_000, async () => {
    const push = (await handle.describe()).raw.pendingActivities?.find((a) => a.activityType?.name === 'pushImage');
    return push && (push.attempt ?? 0) >= 5 ? push.attempt : undefined;
  });
  const during = await handle.query<PipelineStatus>('status');
  assert.equal(during.state, 'building', 'the pipeline waits in its build step');

  registry = await startRegistry(port, 'registry-outage');
  await until('production to wait for approval', 240_000, async () => {
    const st = await handle.query<PipelineStatus>('status');
    if (st.state === 'failed') throw new Error(`pipeline failed: ${st.error}`);
    return st.environments.find((e) => e.name === 'production')?.state === 'waiting-approval' ? true : undefined;
  });
  const decision = await sendDecision(s.client, workflowId, 'approve', {
    environment: 'production',
    approver: 'alice',
  });
  assert.ok(decision.ok, JSON.stringify(decision));
  const result = (await handle.result()) as PipelineStatus;
  assert.equal(result.state, 'succeeded', result.error);
  assert.ok(result.image?.startsWith(`${registry.address}/${s.service}@sha256:`), result.image);
  const digest = result.image!.split('@')[1]!;
  const manifest = await fetch(`http://${registry.address}/v2/${s.service}/manifests/${digest}`, {
    headers: { Accept: 'application/vnd.docker.distribution.manifest.v2+json' },
  });
  assert.equal(manifest.status, 200, 'the pushed digest is in the restarted registry');
  // The outage was ridden out by retrying the push, not by giving up on the host and rebuilding.
  assert.deepEqual((await activityAttempts(handle, 'buildImage')).length, 1, 'one build');
  const pushes = await activityAttempts(handle, 'pushImage');
  assert.equal(pushes.length, 1, `one push activity, retried: attempts ${pushes.join(',')}`);
  assert.ok((pushes[0] ?? 0) >= 5, `the push outlasted the old 3-attempt limit: attempts ${pushes.join(',')}`);
  console.log(`[figure] registry outage: push retried ${attempts}+ times, then the pipeline completed`);
});
