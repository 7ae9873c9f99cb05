// Capacity and placement as Marathon sees them: the emulator's agents have cpus, mem, port ranges
// and attributes; a task launches only where it fits and its constraints hold, otherwise it waits
// in GET /v2/queue with the reasons offers were declined, and the deployment waits with it.
// Slipway reads the queue while it waits and fails with Marathon's reason at its timeout.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { ApplicationFailure } from '@temporalio/common';
import type { HealthProgress } from '../../activities/marathon';
import { viewQueue, waitingReason } from '../../activities/marathon-queue';
import { demandOf, makeAgents, matchAgent, type Placed } from '../../dev/marathon-emulator/agents';
import type { MarathonEmulator } from '../../dev/marathon-emulator';
import { activitiesFor, bridgeApp, digest, fastEmulator, getJson, inActivity } from './helpers';
import { until } from '../helpers/wait';

let emu: MarathonEmulator;
before(async () => {
  emu = await fastEmulator({ agents: { count: 3, cpus: 2, mem: 256, ports: [[31000, 31009]] } });
});
after(() => emu?.close());

type Queue = {
  queue: {
    count: number;
    app: { id: string };
    delay: { timeLeftSeconds: number; overdue: boolean };
    processedOffersSummary: { rejectSummaryLastOffers: { reason: string; declined: number; processed: number }[] };
    lastUnusedOffers?: { offer: { hostname: string }; reason: string[] }[];
  }[];
};
const queueOf = async (appId: string, embed = false) =>
  ((await getJson(`${emu.url}/v2/queue${embed ? '?embed=lastUnusedOffers' : ''}`)) as Queue).queue.find(
    (q) => q.app.id === appId,
  );
const put = (app: Record<string, unknown>) =>
  fetch(`${emu.url}/v2/apps${String(app.id)}`, { method: 'PUT', body: JSON.stringify(app) });
const tasksOf = async (appId: string) =>
  ((await getJson(`${emu.url}/v2/apps${appId}`)) as { app: { tasks: { host: string; slaveId: string }[] } }).app.tasks;

test('a task bigger than any agent never launches: the queue says insufficient memory on every agent', async () => {
  assert.equal((await put(bridgeApp('/test/big', digest(1), { mem: 512 }))).status, 201);
  const entry = await until('the queue entry', 5000, () => queueOf('/test/big', true));
  assert.equal(entry.count, 1);
  assert.deepEqual(entry.delay, { timeLeftSeconds: 0, overdue: true });
  const memory = entry.processedOffersSummary.rejectSummaryLastOffers.find((s) => s.reason === 'InsufficientMemory');
  assert.deepEqual(memory, { reason: 'InsufficientMemory', declined: 3, processed: 3 });
  assert.deepEqual(
    entry.lastUnusedOffers?.map((o) => o.reason),
    [['InsufficientMemory'], ['InsufficientMemory'], ['InsufficientMemory']],
  );
  assert.equal((await tasksOf('/test/big')).length, 0);
  const deployments = (await getJson(`${emu.url}/v2/deployments`)) as { affectedApps: string[] }[];
  assert.ok(
    deployments.some((d) => d.affectedApps.includes('/test/big')),
    'the deployment waits',
  );
});

test('hostname:UNIQUE places one task per agent; the fourth waits on the constraint', async () => {
  await put(bridgeApp('/test/unique', digest(1), { instances: 4, mem: 16, constraints: [['hostname', 'UNIQUE']] }));
  const entry = await until('three tasks and a queued fourth', 5000, async () => {
    const q = await queueOf('/test/unique');
    return q?.count === 1 && (await tasksOf('/test/unique')).length === 3 ? q : undefined;
  });
  const hosts = (await tasksOf('/test/unique')).map((t) => t.host).sort();
  assert.deepEqual(hosts, ['agent-1.emulator.invalid', 'agent-2.emulator.invalid', 'agent-3.emulator.invalid']);
  assert.equal(
    entry.processedOffersSummary.rejectSummaryLastOffers.find((s) => s.reason === 'UnfulfilledConstraint')?.declined,
    3,
  );
});

test('a fixed host port is held on its agent: a second task cannot have it there', async () => {
  const app = bridgeApp('/test/fixed', digest(1), { instances: 4, mem: 16 });
  (app.container as { portMappings: { hostPort: number }[] }).portMappings[0]!.hostPort = 31005;
  await put(app);
  const entry = await until('three tasks on 31005 and one queued', 5000, async () => {
    const q = await queueOf('/test/fixed');
    return q?.count === 1 ? q : undefined;
  });
  const ports = ((await getJson(`${emu.url}/v2/apps/test/fixed`)) as { app: { tasks: { ports: number[] }[] } }).app
    .tasks;
  assert.deepEqual(
    ports.map((t) => t.ports[0]),
    [31005, 31005, 31005],
  );
  assert.equal(
    entry.processedOffersSummary.rejectSummaryLastOffers.find((s) => s.reason === 'InsufficientPorts')?.declined,
    3,
  );
});

test('constraints: UNIQUE, CLUSTER, GROUP_BY, LIKE, UNLIKE, MAX_PER on hostname and attributes', () => {
  const agents = makeAgents({
    count: 3,
    cpus: 4,
    mem: 1024,
    ports: [[31000, 31100]],
    attributes: [{ rack: 'r1' }, { rack: 'r1' }, { rack: 'r2' }],
  });
  const demand = (constraints: string[][]) =>
    demandOf({ cpus: 0.1, mem: 32, portDefinitions: [{ port: 0 }], constraints }, true);
  const on = (agentIndex: number): Placed => ({
    agentId: agents[agentIndex]!.id,
    appId: '/a',
    cpus: 0.1,
    mem: 32,
    disk: 0,
    ports: [],
  });
  const where = (constraints: string[][], placed: Placed[]) => {
    const m = matchAgent(agents, placed, '/a', demand(constraints));
    return 'agent' in m ? m.agent.attributes.rack + '/' + m.agent.hostname.split('.')[0] : 'none';
  };
  assert.equal(where([['rack', 'UNIQUE']], [on(0)]), 'r2/agent-3');
  assert.equal(where([['rack', 'UNIQUE']], [on(0), on(2)]), 'none');
  assert.equal(where([['rack', 'CLUSTER', 'r2']], []), 'r2/agent-3');
  assert.equal(where([['rack', 'CLUSTER']], [on(1)]), 'r1/agent-1');
  assert.equal(where([['rack', 'GROUP_BY']], [on(0)]), 'r2/agent-3');
  assert.equal(where([['hostname', 'LIKE', 'agent-[23].*']], []), 'r1/agent-2');
  assert.equal(where([['hostname', 'UNLIKE', 'agent-[12].*']], []), 'r2/agent-3');
  assert.equal(where([['rack', 'MAX_PER', '1']], [on(0)]), 'r2/agent-3');
  assert.equal(where([['rack', 'MAX_PER', '2']], [on(0), on(2)]), 'r1/agent-2');
  assert.equal(where([['zone', 'LIKE', 'a']], []), 'none', 'an agent without the attribute does not match LIKE');
  assert.equal(where([['zone', 'UNLIKE', 'a']], []), 'r1/agent-1', 'but UNLIKE');
  const full = matchAgent(agents, [], '/a', { ...demand([]), cpus: 8 });
  assert.ok('reasons' in full && full.reasons.every((r) => r.reasons.includes('InsufficientCpus')));
});

test("Slipway's wait reports Marathon's reason and fails with it at the health timeout", async () => {
  const activities = activitiesFor({ pollIntervalMs: 50 });
  const heartbeats: unknown[] = [];
  for (const [app, reason] of [
    [bridgeApp('/test/too-big', digest(2), { mem: 300 }), /waiting for offers: insufficient memory on all 3 agents/],
    [
      bridgeApp('/test/unique-2', digest(2), { instances: 4, mem: 8, constraints: [['hostname', 'UNIQUE']] }),
      /waiting for offers: constraint UNIQUE hostname unmet on all 3 agents/,
    ],
  ] as const) {
    const { result } = await inActivity(activities.deployToMarathon, [
      { marathonUrl: emu.url, environment: 'test', pipelineId: 'pipeline/cap/1', app },
    ]);
    await assert.rejects(
      inActivity(
        activities.awaitHealthy,
        [{ ...result, marathonUrl: emu.url, environment: 'test', timeoutSeconds: 1 }],
        {
          onEnv: (env) => env.on('heartbeat', (d: unknown) => heartbeats.push(d)),
        },
      ),
      (err: unknown) => {
        assert.ok(err instanceof ApplicationFailure && err.type === 'HealthTimeout');
        assert.match(err.message, reason);
        assert.match((err.details?.[0] as { waitingReason: string }).waitingReason, reason);
        return true;
      },
    );
    assert.match((heartbeats.at(-1) as HealthProgress).waitingReason ?? '', reason);
  }
});

test('an older Marathon queue without processedOffersSummary still gives a reason', () => {
  const [entry] = viewQueue({
    queue: [{ count: 2, delay: { timeLeftSeconds: 0, overdue: true }, app: { id: '/test/x', constraints: [] } }],
  });
  assert.equal(waitingReason(entry!), 'waiting for offers to launch 2 task(s)');
  const [delayed] = viewQueue({
    queue: [{ count: 1, delay: { timeLeftSeconds: 42, overdue: false }, app: { id: '/test/x' } }],
  });
  assert.equal(waitingReason(delayed!), 'launch of 1 task(s) delayed 42 s (backoff after failed tasks)');
});
