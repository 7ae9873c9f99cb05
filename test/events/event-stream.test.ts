// The pure parts of delivery events, without a server: how a pipeline names its events and tells
// how it ended, the lane's event for an operator's rollback, and the audit log's dedupe when
// another process appends to the same day file.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { appendFileSync, mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { AuditLog, dayFileOf, readAudit } from '../../common/audit-log';
import type { DeliveryEvent } from '../../common/contract';
import { Lane } from '../../workflows/lane/lane-state';
import { endEvent, PipelineEvents } from '../../workflows/pipeline/events';
import { DeployFailure, PipelineRun, PipelineStop } from '../../workflows/pipeline/run';

const at = new Date('2026-12-01T10:00:00.000Z');

function run(): PipelineRun {
  const r = new PipelineRun(
    { service: 'payments', commit: 'a'.repeat(40), trigger: { kind: 'manual' }, author: { username: 'carol' } },
    { workflowId: 'pipeline/payments/aaaa', runId: 'run-1', startTime: at },
    () => at,
  );
  r.planned({
    environments: [{ name: 'test', marathonUrl: 'http://m', appId: '/test/payments' }],
  } as never);
  return r;
}

describe('PipelineEvents', () => {
  test('ids are workflow, run and sequence: the same on every replay, distinct within a run', () => {
    const events = new PipelineEvents(run(), true);
    const first = events.build({ kind: 'deployed', environment: 'test' });
    const second = events.build({
      kind: 'approved',
      environment: 'test',
      actor: 'alice',
      at: '2026-12-01T09:59:00.000Z',
    });
    assert.equal(first.id, 'pipeline/payments/aaaa/run-1/1-deployed');
    assert.equal(second.id, 'pipeline/payments/aaaa/run-1/2-approved');
    assert.equal(second.at, '2026-12-01T09:59:00.000Z', 'a decision keeps its own time');
    assert.deepEqual(
      [first.service, first.commit, first.pipelineId, first.at],
      ['payments', 'a'.repeat(40), 'pipeline/payments/aaaa', at.toISOString()],
    );
  });

  test('how a pipeline ended becomes one event; a rejection was told when decided', () => {
    const r = run();
    r.finish('failed', 'build failed: npm ci exited 1');
    assert.deepEqual(endEvent(r, new Error('build failed'), false, undefined), {
      kind: 'failed',
      reason: 'build failed: npm ci exited 1',
    });
    assert.deepEqual(endEvent(r, new Error('x'), true, 'test'), { kind: 'cancelled', environment: 'test' });
    assert.equal(endEvent(r, new PipelineStop('rejected', 'test rejected by bob'), false, 'test'), undefined);
    assert.equal(endEvent(r, new PipelineStop('superseded', 'superseded by b'), false, 'test')?.kind, 'superseded');
    r.environment('test').error = 'not healthy within 60 s';
    assert.deepEqual(endEvent(r, new DeployFailure('test: ...', 'DeployRolledBack', 'v3'), false, 'test'), {
      kind: 'rolled-back',
      environment: 'test',
      reason: 'not healthy within 60 s',
      rolledBackTo: 'v3',
    });
  });

  test('a pipeline started before the patch records nothing', async () => {
    // Recording schedules an activity, which only works inside a workflow: outside, it throws.
    await assert.rejects(new PipelineEvents(run(), true).emit({ kind: 'deployed' }));
    await assert.doesNotReject(new PipelineEvents(run(), false).emit({ kind: 'deployed' }));
  });
});

describe("Lane's rollback event", () => {
  test('names the operator, the reason and where the environment returned to; its id is the request', () => {
    const lane = new Lane({ service: 'payments', environment: 'production' }, () => at);
    const req = { requestId: 'rollback/payments/production/1', requestedBy: 'carol', reason: 'bad release' };
    const done = lane.rollbackEvent(req, { kind: 'healthy', deploymentId: 'd', version: 'v9', previousVersion: 'v7' });
    assert.deepEqual(
      [done.id, done.kind, done.actor, done.reason, done.rolledBackTo],
      ['rollback/payments/production/1/rolled-back', 'rolled-back', 'carol', 'bad release', 'v7'],
    );
    const failed = lane.rollbackEvent(req, { kind: 'failed', error: 'no earlier version' });
    assert.deepEqual([failed.kind, failed.reason], ['failed', 'rollback failed: no earlier version']);
  });
});

describe('AuditLog', () => {
  test('skips an id another process appended since, and days it forgot', () => {
    const dir = mkdtempSync(path.join(process.env.SLIPWAY_AUDIT_DIR ?? os.tmpdir(), 'audit-log-'));
    const log = new AuditLog(dir);
    const event = (id: string, day: string): DeliveryEvent => ({
      id,
      kind: 'deployed',
      service: 'payments',
      pipelineId: 'p',
      at: `${day}T10:00:00.000Z`,
    });
    assert.equal(log.append(event('a', '2026-12-01')), true);
    appendFileSync(dayFileOf(dir, '2026-12-01'), `${JSON.stringify(event('b', '2026-12-01'))}\n{"torn`);
    assert.equal(log.append(event('b', '2026-12-01')), false, 'written by another worker');
    for (const day of ['2026-12-02', '2026-12-03', '2026-12-04']) log.append(event(day, day));
    assert.equal(log.append(event('a', '2026-12-01')), false, 'a day dropped from memory is read again');
    assert.equal(log.append(event('c', '2026-12-01')), true, 'a new line after the torn one');
    assert.deepEqual(
      readAudit(dir, { since: new Date('2026-12-01T00:00:00Z'), service: 'payments' })
        .filter((e) => e.at.startsWith('2026-12-01'))
        .map((e) => e.id),
      ['a', 'b', 'c'],
      'the torn line is skipped and costs no other line',
    );
  });
});
