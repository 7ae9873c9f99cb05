// Lane without any server: the queue (one at a time, newest wins, never older than what runs),
// answers kept for re-sent requests, approval waiters superseded, history and rollback targets.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { DeployRequest } from '../../common/contract';
import { Lane } from '../../workflows/lane/lane-state';

const clock = () => new Date('2026-11-30T10:00:00.000Z');
const lane = () => new Lane({ service: 'payments', environment: 'production' }, clock);
const request = (n: number, extra: Partial<DeployRequest> = {}): DeployRequest => ({
  pipelineId: `pipeline/payments/${n}`,
  order: n,
  commit: String(n).repeat(40).slice(0, 40),
  image: `registry.test/payments@sha256:${String(n).repeat(64).slice(0, 64)}`,
  marathonUrl: 'http://marathon.test',
  app: { id: '/production/payments' },
  healthTimeoutSeconds: 60,
  forceOverForeignDeployment: false,
  ...extra,
});

describe('Lane', () => {
  test('queues requests in order; a newer one supersedes the older ones still queued', () => {
    const l = lane();
    for (const n of [2, 1]) {
      assert.deepEqual(l.admit(request(n)), { queue: true });
      l.enqueue(request(n));
    }
    assert.deepEqual(
      l.state.queue.map((q) => q.order),
      [1, 2],
    );
    assert.deepEqual(l.admit(request(2)), { duplicate: true }, 'a re-sent request is not queued twice');
    assert.deepEqual(
      l.olderQueued(3).map((q) => q.order),
      [1, 2],
    );
    l.dropQueued('pipeline/payments/1');
    assert.equal(l.nextDeploy()?.pipelineId, 'pipeline/payments/2');
    assert.equal(l.nextDeploy(), undefined);
    assert.equal(l.hasWork(), false);
  });

  test('a withdrawn request leaves nothing to deploy', () => {
    const l = lane();
    l.enqueue(request(1));
    l.dropQueued('pipeline/payments/1');
    assert.equal(l.nextDeploy(), undefined);
  });

  test('what ran is history; an older request than what runs is refused, naming the newer pipeline', () => {
    const l = lane();
    l.startDeploy(request(5, { imageTag: 'production' }));
    assert.equal(l.isInFlight('pipeline/payments/5'), true);
    assert.deepEqual(l.admit(request(5)), { duplicate: true }, 'the one in flight is not queued again');
    l.finishInFlight();
    l.deployed(request(5), 'v5');
    l.startDeploy(request(7));
    l.finishInFlight();
    l.deployed(request(7), 'v7');
    assert.equal(l.state.current?.version, 'v7');
    assert.deepEqual(
      l.state.history.map((h) => [h.version, h.outcome]),
      [['v5', 'replaced']],
    );
    const refusal = l.admit(request(6));
    assert.ok('answer' in refusal && refusal.answer.kind === 'refused');
    assert.match(
      refusal.answer.kind === 'refused' ? refusal.answer.reason : '',
      /pipeline\/payments\/7 .* is newer and already runs in production/,
    );
  });

  test('an answered request gets the same answer again, and answers are bounded', () => {
    const l = lane();
    const outcome = { kind: 'healthy', deploymentId: 'd', version: 'v1', previousVersion: null } as const;
    l.remember('pipeline/payments/1', outcome);
    assert.deepEqual(l.admit(request(1)), { answer: outcome });
    for (let i = 2; i <= 60; i++) l.remember(`pipeline/payments/${i}`, outcome);
    assert.equal(Object.keys(l.answered).length, 50);
    assert.equal(l.answered['pipeline/payments/1'], undefined, 'the oldest answers are forgotten first');
    assert.deepEqual(l.withdrawnAnswer('pipeline/payments/99'), { kind: 'cancelled', rolledBackTo: null });
  });

  test('approval waiters: a newer waiter supersedes older ones; an older arrival is superseded at once', () => {
    const l = lane();
    assert.deepEqual(l.noteWaiting({ pipelineId: 'p2', order: 2 }), { supersedes: [] });
    assert.deepEqual(l.noteWaiting({ pipelineId: 'p3', order: 3 }), { supersedes: ['p2'] });
    assert.deepEqual(l.noteWaiting({ pipelineId: 'p1', order: 1 }), { supersededBy: 'p3', supersedes: [] });
    assert.deepEqual(l.state.waitingApproval, [{ pipelineId: 'p3', order: 3 }]);
    assert.deepEqual(l.noteWaiting({ pipelineId: 'p3', order: 3, done: true }), { supersedes: [] });
    assert.deepEqual(l.state.waitingApproval, []);
    l.noteWaiting({ pipelineId: 'p4', order: 4 });
    assert.deepEqual(l.deployed(request(9), 'v9'), ['p4'], 'a newer deploy supersedes the waiters older than it');
  });

  test('rollback: nothing to return to until deployed twice; then back to the previous version', () => {
    const l = lane();
    const ask = { requestId: 'rollback/1', requestedBy: 'carol', reason: 'error rate' };
    assert.match((l.rollbackPlan(ask) as { error: string }).error, /never been deployed to production/);
    l.startDeploy(request(1));
    l.finishInFlight();
    l.deployed(request(1), 'v1');
    assert.match((l.rollbackPlan(ask) as { error: string }).error, /no earlier version/);
    l.deployed(request(2), 'v2');
    const plan = l.rollbackPlan(ask);
    assert.ok('target' in plan);
    assert.equal(plan.toVersion, 'v1');
    l.requestRollback(ask);
    l.requestRollback(ask);
    assert.equal(l.nextRollback()?.requestId, 'rollback/1');
    assert.equal(l.nextRollback(), undefined, 'a repeated rollback request runs once');
    const restored = l.rolledBack(ask, 'v1', 'v3');
    assert.equal(restored?.commit, request(1).commit);
    assert.deepEqual(
      [l.state.current?.version, l.state.current?.order, l.state.history[0]?.outcome],
      ['v3', 2, 'rolled back by carol'],
    );
  });
});
