// Slipway's own Prometheus metrics, one registry per process, served on /metrics by workers (next
// to the Temporal SDK's runtime metrics) and by the webhook server:
//   per process (what this worker did; sum them across workers):
//     slipway_build_duration_seconds{outcome}            image builds (buildImage)
//     slipway_deploys_total{environment,outcome}          deploys sent to Marathon (deployToMarathon)
//     slipway_deploy_duration_seconds{environment,outcome} deploy sent -> app healthy (awaitHealthy)
//     slipway_rollbacks_total{environment,outcome}        rollbacks of a Marathon app
//     slipway_drift_fields{service,environment}           fields differing at the last drift check
//     slipway_notifications_total{target,outcome}         delivery-event notifications (sent, failed)
//   cluster-wide, read from Temporal visibility at scrape time (the same from every process):
//     slipway_deliveries{status}                          deliveryPipeline executions by status
//     slipway_approvals_waiting                           running pipelines waiting for an approval
// plus Node's process metrics (CPU, memory, event loop lag). Outcome: success, failure, canceled.
import type { Client } from '@temporalio/client';
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import { createLogger } from './log';

export const metricsRegistry = new Registry();
collectDefaultMetrics({ register: metricsRegistry });

export type Outcome = 'success' | 'failure' | 'canceled';

const histogram = <L extends string>(name: string, help: string, labelNames: readonly L[], buckets: number[]) =>
  new Histogram<L>({ name, help, labelNames, buckets, registers: [metricsRegistry] });
const counter = <L extends string>(name: string, help: string, labelNames: readonly L[]) =>
  new Counter<L>({ name, help, labelNames, registers: [metricsRegistry] });

export const buildDuration = histogram(
  'slipway_build_duration_seconds',
  'Image builds run by this build worker (buildImage attempts), by outcome',
  ['outcome'],
  [5, 15, 30, 60, 120, 300, 600, 1200, 2400],
);

export const deploys = counter(
  'slipway_deploys_total',
  'Deploys sent to Marathon by this worker (deployToMarathon attempts), by environment and outcome',
  ['environment', 'outcome'],
);

export const deployDuration = histogram(
  'slipway_deploy_duration_seconds',
  'From a deploy sent to Marathon until the app is healthy (awaitHealthy), by environment and outcome',
  ['environment', 'outcome'],
  [1, 5, 15, 30, 60, 120, 300, 600, 1800],
);

export const rollbacks = counter(
  'slipway_rollbacks_total',
  'Rollbacks of a Marathon app carried out by this worker, by environment and outcome',
  ['environment', 'outcome'],
);

export const driftFields = new Gauge<'service' | 'environment'>({
  name: 'slipway_drift_fields',
  help: 'Fields of the live Marathon app that differ from what the config renders, at the last drift check this worker ran (a missing app counts 1)',
  labelNames: ['service', 'environment'],
  registers: [metricsRegistry],
});
export const notifications = counter(
  'slipway_notifications_total',
  'Delivery-event notifications sent by this worker, by target kind (slack, webhook) and outcome (sent, failed)',
  ['target', 'outcome'],
);

const pipelineType = 'deliveryPipeline';
const log = createLogger('metrics');
/** The Temporal client the visibility gauges ask; the last process component to start sets it. */
let visibility: Client | undefined;

/** Makes the cluster-wide gauges answer from this client's namespace. */
export function observeDeliveries(client: Client): void {
  visibility = client;
}

async function countPipelines(query: string) {
  if (!visibility) return undefined;
  const client = visibility;
  try {
    return await client.withDeadline(Date.now() + 5000, () => client.workflow.count(query));
  } catch (err) {
    // A scrape must still answer when Temporal does not; the gauge keeps its last value.
    log.warn('reading pipeline counts from Temporal visibility failed', { error: (err as Error).message });
    return undefined;
  }
}

new Gauge({
  name: 'slipway_deliveries',
  help: 'deliveryPipeline executions known to Temporal visibility, by execution status (cluster-wide)',
  labelNames: ['status'] as const,
  registers: [metricsRegistry],
  async collect() {
    const counts = await countPipelines(`WorkflowType = '${pipelineType}' GROUP BY ExecutionStatus`);
    if (!counts) return;
    this.reset();
    for (const group of counts.groups) this.set({ status: String(group.groupValues[0]) }, group.count);
  },
});

new Gauge({
  name: 'slipway_approvals_waiting',
  help: 'Running pipelines waiting for an approval (cluster-wide)',
  registers: [metricsRegistry],
  async collect() {
    const counts = await countPipelines(
      `WorkflowType = '${pipelineType}' AND ExecutionStatus = 'Running' AND SlipwayState = 'waiting-approval'`,
    );
    if (counts) this.set(counts.count);
  },
});

/** Slipway's metrics, after the Temporal SDK's when its exporter's address is given. */
export async function metricsText(sdkMetricsUrl?: string): Promise<string> {
  let sdk = '';
  if (sdkMetricsUrl) {
    try {
      const res = await fetch(sdkMetricsUrl, { signal: AbortSignal.timeout(3000) });
      sdk = res.ok ? await res.text() : '';
    } catch (err) {
      log.warn('reading the Temporal SDK metrics failed', { error: (err as Error).message });
    }
  }
  const own = await metricsRegistry.metrics();
  return sdk ? `${sdk.trimEnd()}\n${own}` : own;
}

export const metricsContentType = metricsRegistry.contentType;
