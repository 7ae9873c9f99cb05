// 3. Webhook intake: autocannon against POST /webhooks/gitlab of a real `slipway webhook` process
// (token check, body limit, payload validation, config lookup, a real StartWorkflowExecution on
// the harness's Temporal server). Three runs, 10 s each, 20 connections:
//  - distinct: every request a new commit and a new Idempotency-Key -> one new pipeline each;
//  - dedupe (same delivery): one body and one Idempotency-Key repeated -> answered from memory;
//  - dedupe (redelivery, new key): one commit, a new key each time -> the first is started, the
//    rest are answered from the webhook's memory of pipeline IDs that exist. (After a restart of
//    the webhook the first redelivery of each commit is a start Temporal refuses: the cost of a
//    distinct commit.)
// No worker polls during this section: the pipelines only need to be started.
import path from 'node:path';
import { randomUUID } from 'node:crypto';
import autocannon from 'autocannon';
import { freePort } from '../dev/process';
import { deliveryPipeline } from '../workflows';
import { benchTempDir, randomSha, writeDeployConfig } from './fixtures';
import { startNodeChild } from './processes';
import { atLeast, atMost, info, ms } from './stats';
import type { BenchContext, BenchResult } from './types';

const section = 'intake';
const token = `bench-${randomUUID()}`;

function pushBody(project: string, sha: string): string {
  return JSON.stringify({
    object_kind: 'push',
    event_name: 'push',
    ref: 'refs/heads/main',
    before: '0'.repeat(40),
    after: sha,
    checkout_sha: sha,
    user_username: 'bench',
    user_name: 'Bench',
    project: { path_with_namespace: project },
    commits: [{ id: sha, timestamp: new Date().toISOString(), author: { name: 'Bench', email: 'bench@example.com' } }],
    total_commits_count: 1,
  });
}

type Mode = 'distinct' | 'same-delivery' | 'redelivery';

async function load(url: string, project: string, mode: Mode, durationS: number) {
  const fixedSha = randomSha();
  const fixedKey = randomUUID();
  const result = await autocannon({
    url: `${url}/webhooks/gitlab`,
    connections: Number(process.env.BENCH_INTAKE_CONNECTIONS ?? 20),
    duration: durationS,
    // setupRequest only takes effect per entry of `requests`, not as a top-level option.
    requests: [
      {
        method: 'POST',
        setupRequest: (req) => {
          const sha = mode === 'distinct' ? randomSha() : fixedSha;
          const key = mode === 'same-delivery' ? fixedKey : randomUUID();
          return {
            ...req,
            body: pushBody(project, sha),
            headers: {
              'content-type': 'application/json',
              'x-gitlab-token': token,
              'x-gitlab-event': 'Push Hook',
              'idempotency-key': key,
            },
          };
        },
      },
    ],
  });
  return result;
}

/**
 * What the Temporal server itself allows: 20 concurrent loops of bare workflow starts from this
 * process (no HTTP, no webhook code), for the same duration. The distinct-commits figure cannot
 * exceed this; the difference between the two is ours.
 */
async function rawStartRate(ctx: BenchContext, durationS: number) {
  const latencies: number[] = [];
  const until = Date.now() + durationS * 1000;
  const taskQueue = `bench-intake-floor-${ctx.runId}`;
  await Promise.all(
    Array.from({ length: 20 }, async () => {
      while (Date.now() < until) {
        const started = performance.now();
        await ctx.client.workflow.start(deliveryPipeline, {
          taskQueue,
          workflowId: `intake-floor-${randomUUID()}`,
          args: [{ service: 'intake-floor', commit: randomSha(), trigger: { kind: 'manual' } }],
        });
        latencies.push(performance.now() - started);
      }
    }),
  );
  latencies.sort((a, b) => a - b);
  const at = (q: number) => latencies[Math.min(latencies.length - 1, Math.floor(latencies.length * q))] ?? NaN;
  return { perSecond: latencies.length / durationS, p50: at(0.5), p99: at(0.99) };
}

export default async function intake(ctx: BenchContext): Promise<BenchResult[]> {
  const durationS = Number(process.env.BENCH_INTAKE_SECONDS ?? 10);
  const service = `intake-${ctx.runId}`;
  const project = `bench/${service}`;
  const configDir = writeDeployConfig(path.join(benchTempDir(section), 'config'), {
    registry: ctx.registry,
    marathonUrl: 'http://127.0.0.1:1',
    environments: [{ name: 'test' }],
    services: [{ name: service, gitlabProject: project }],
  });
  const port = await freePort();
  const server = await startNodeChild({
    name: 'webhook',
    script: 'client/cli.ts',
    args: ['webhook', '--port', String(port)],
    env: { ...process.env, SLIPWAY_CONFIG_DIR: configDir, SLIPWAY_WEBHOOK_TOKEN: token, SLIPWAY_LOG_FORMAT: 'json' },
    readyLine: /webhook: http/,
  });
  const url = `http://127.0.0.1:${port}`;
  try {
    const results: BenchResult[] = [];
    await load(url, project, 'distinct', 2); // warm-up: JIT, connections to Temporal
    const runs: [Mode, string][] = [
      ['distinct', 'distinct commits'],
      ['same-delivery', 'dedupe, same delivery'],
      ['redelivery', 'dedupe, redelivery with a new key'],
    ];
    for (const [mode, label] of runs) {
      const r = await load(url, project, mode, durationS);
      const failed = r.non2xx + r.errors + r.timeouts;
      if (failed > 0)
        console.log(`[bench] intake ${mode}: status codes ${JSON.stringify(r.statusCodeStats)}, errors ${r.errors}`);
      results.push(
        atLeast(section, `${label}: req/s`, r.requests.average, 1000, (v) => String(Math.round(v))),
        atMost(section, `${label}: p99`, r.latency.p99, 50, ms),
        info(section, `${label}: p50`, ms(r.latency.p50)),
      );
      if (failed > 0) results.push(info(section, `${label}: failed requests`, `${failed} of ${r.requests.total}`));
    }
    const started = await ctx.client.workflow.count(
      `WorkflowType = 'deliveryPipeline' AND SlipwayService = '${service}'`,
    );
    results.push(info(section, 'pipelines started (visibility)', started.count));
    const floor = await rawStartRate(ctx, durationS);
    results.push(
      info(section, 'floor: bare StartWorkflowExecution, 20 in flight: starts/s', String(Math.round(floor.perSecond))),
      info(section, 'floor: bare StartWorkflowExecution p50 / p99', `${ms(floor.p50)} / ${ms(floor.p99)}`),
    );
    return results;
  } finally {
    await server.stop();
  }
}
