// Pure parts of the CLI: the status table, the watch display (redrawn in place on a terminal,
// change lines otherwise), the metrics arithmetic, approver token checks.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { Writable } from 'node:stream';
import type { PipelineStatus } from '../../common/contract';
import { computeMetrics, deployEvents } from '../../client/metrics';
import { renderStages, renderStatusTable, formatDuration } from '../../client/status-view';
import { watchPipeline } from '../../client/commands/watch';
import { describePipeline } from '../../workflows/pipeline/details';
import { approverDirectory, authenticateApprover, secretMatches } from '../../client/webhook/auth';
import { parsePipelinePath } from '../../client/webhook/pipeline-routes';

const t0 = Date.parse('2026-11-26T10:00:00.000Z');
const at = (s: number) => new Date(t0 + s * 1000).toISOString();

function status(over: Partial<PipelineStatus> = {}): PipelineStatus {
  return {
    workflowId: 'pipeline/hello-node/3f2c9e1d0b7a4c5e8f90123456789abcdef01234',
    service: 'hello-node',
    commit: '3f2c9e1d0b7a4c5e8f90123456789abcdef01234',
    ref: 'refs/heads/main',
    trigger: { kind: 'gitlab-push', project: 'demo/hello-node', user: 'carol' },
    state: 'waiting-approval',
    image: 'registry/hello-node@sha256:abc',
    build: { startedAt: at(1), finishedAt: at(31), host: 'build-1' },
    environments: [
      {
        name: 'test',
        state: 'healthy',
        appId: '/test/hello-node',
        marathonUrl: 'm',
        startedAt: at(32),
        finishedAt: at(52),
        version: 'v1',
      },
      {
        name: 'integration',
        state: 'healthy',
        appId: '/integration/hello-node',
        marathonUrl: 'm',
        startedAt: at(53),
        finishedAt: at(70),
      },
      {
        name: 'production',
        state: 'waiting-approval',
        appId: '/production/hello-node',
        marathonUrl: 'm',
        approval: {
          approvers: ['alice', 'bob'],
          timeoutSeconds: 3600,
          authorMayApprove: false,
          waitingSince: at(71),
          deadline: at(3671),
        },
      },
    ],
    decisions: [],
    startedAt: at(0),
    ...over,
  };
}

class Capture extends Writable {
  text = '';
  override _write(chunk: Buffer, _enc: string, done: () => void): void {
    this.text += chunk.toString();
    done();
  }
}

describe('status views', () => {
  test('durations read like people write them', () => {
    assert.equal(formatDuration(42_000), '42s');
    assert.equal(formatDuration(125_000), '2m05s');
    assert.equal(formatDuration(2 * 3600_000 + 60_000), '2h01m');
    assert.equal(formatDuration(3 * 86400_000), '3d00h');
  });

  test('the status table shows every environment and who it waits for', () => {
    const text = renderStatusTable(status(), t0 + 100_000);
    assert.match(text, /^Service\s+hello-node @ 3f2c9e1d0b7a \(main\)$/m);
    assert.match(text, /^Build\s+done in 30s on build-1$/m);
    assert.match(text, /^test\s+healthy\s+20s\s+v1$/m);
    assert.match(text, /^production\s+waiting-approval\s+waits for alice or bob, 59m31s left$/m);
  });

  test('registry tags and their warnings show in the table and in the Temporal UI details', () => {
    const s = status();
    Object.assign(s.environments[0]!, { imageTag: 'test' });
    Object.assign(s.environments[1]!, {
      warning: 'registry tag "integration" still points at the previous image: denied',
    });
    const text = renderStatusTable(s, t0 + 100_000);
    assert.match(text, /^test\s+healthy\s+20s\s+v1\s+tagged :test$/m);
    assert.match(text, /^integration\s+healthy\s+.*warning: registry tag "integration" still points/m);
    const details = describePipeline(s);
    assert.match(details, /^\| test \| ✅ healthy \| v1 \| tagged :test \|$/m);
    assert.match(details, /^\| integration \| ✅ healthy \| .* \| ⚠️ registry tag "integration" still points/m);
  });

  test('a blue/green environment shows the colour that serves it', () => {
    const s = status();
    Object.assign(s.environments[0]!, { live: { appId: '/test/hello-node-green', colour: 'green' } });
    assert.match(
      renderStatusTable(s, t0 + 100_000),
      /^test\s+healthy\s+20s\s+v1\s+served by \/test\/hello-node-green \(green\)$/m,
    );
  });

  test('stage lines mark done, waiting and failed stages', () => {
    const lines = renderStages(status(), t0 + 100_000);
    assert.equal(lines.length, 5);
    assert.match(lines[1]!, /✔ build\s+done/);
    assert.match(lines[4]!, /⏸ production\s+waiting\s+waits for alice or bob/);
    const failed = status({
      state: 'failed',
      error: 'test: not healthy',
      environments: [{ name: 'test', state: 'rolled-back', appId: 'a', marathonUrl: 'm', error: 'not healthy' }],
    });
    assert.match(renderStages(failed).join('\n'), /✘ test\s+failed\s+rolled-back: not healthy/);
  });

  test('watch redraws in place on a terminal and ends with the pipeline', async () => {
    const seq = [
      status({
        state: 'building',
        image: undefined,
        build: { startedAt: at(1) },
        environments: status().environments.map((e) => ({
          ...e,
          state: 'pending' as const,
          startedAt: undefined,
          finishedAt: undefined,
        })),
      }),
      status(),
      status({
        state: 'succeeded',
        finishedAt: at(200),
        environments: status().environments.map((e) => ({ ...e, state: 'healthy' as const })),
      }),
    ];
    let i = 0;
    const out = new Capture();
    const final = await watchPipeline(async () => seq[Math.min(i++, seq.length - 1)]!, {
      intervalMs: 1,
      tty: true,
      out,
    });
    assert.equal(final.state, 'succeeded');
    assert.equal((out.text.match(/\x1b\[5A\x1b\[J/g) ?? []).length, 2, 'two redraws of the five lines');
    const plain = new Capture();
    i = 0;
    await watchPipeline(async () => seq[Math.min(i++, seq.length - 1)]!, { intervalMs: 1, tty: false, out: plain });
    assert.ok(!plain.text.includes('\x1b['), 'no escape codes in logs');
    assert.match(plain.text, /build: running — building/);
    assert.match(plain.text, /production: waiting — waits for alice or bob/);
    assert.match(plain.text, /production: done — healthy/);
    assert.match(plain.text, /pipeline succeeded/);
  });
});

describe('metrics arithmetic', () => {
  test('frequency, lead time, change failure rate and time to restore per environment', () => {
    const env = (name: string, state: 'healthy' | 'rolled-back', start: number, end: number) => ({
      name,
      state,
      appId: name,
      marathonUrl: 'm',
      startedAt: at(start),
      finishedAt: at(end),
    });
    const statuses = [
      status({
        workflowId: 'p1',
        committedAt: at(-600),
        environments: [env('test', 'healthy', 10, 20), env('production', 'healthy', 30, 60)],
      }),
      status({ workflowId: 'p2', committedAt: at(1000), environments: [env('test', 'rolled-back', 1010, 1100)] }),
      status({
        workflowId: 'p3',
        committedAt: at(1200),
        environments: [env('test', 'healthy', 1210, 1400), env('production', 'healthy', 1410, 1500)],
      }),
    ];
    const report = computeMetrics(
      deployEvents(statuses),
      [],
      { since: new Date(t0), until: new Date(t0 + 2 * 86400_000) },
      3,
    );
    const [test_, prod] = report.rows;
    assert.equal(test_!.environment, 'test');
    assert.equal(test_!.deployments, 2);
    assert.equal(test_!.failures, 1);
    assert.equal(test_!.changeFailureRate, 1 / 3);
    assert.equal(test_!.deploymentsPerDay, 1);
    assert.equal(test_!.timeToRestoreMedianMs, 300_000, 'failed at 1100 s, healthy again at 1400 s');
    assert.equal(prod!.production, true);
    assert.equal(prod!.leadTimeMedianMs, (660_000 + 300_000) / 2);
    assert.equal(prod!.changeFailureRate, 0);
    // A completed rollback restores sooner than the next healthy deploy.
    const withRollback = computeMetrics(
      deployEvents(statuses),
      [{ service: 'hello-node', environment: 'test', at: t0 + 1160_000 }],
      {
        since: new Date(t0),
        until: new Date(t0 + 86400_000),
      },
    );
    assert.equal(withRollback.rows[0]!.timeToRestoreMedianMs, 60_000);
  });
});

describe('auth and routing helpers', () => {
  test('approver tokens: config digests and SLIPWAY_APPROVER_TOKEN_<NAME>; nothing else passes', () => {
    const dir = approverDirectory(
      { alice: createHash('sha256').update('alice-token').digest('hex') },
      { SLIPWAY_APPROVER_TOKEN_BOB: 'bob-token', SLIPWAY_APPROVER_TOKEN_EMPTY: '' },
    );
    assert.equal(authenticateApprover('Bearer alice-token', dir), 'alice');
    assert.equal(authenticateApprover('bearer bob-token', dir), 'bob');
    assert.equal(authenticateApprover('Bearer ', dir), undefined);
    assert.equal(authenticateApprover('Bearer bob-token2', dir), undefined);
    assert.equal(authenticateApprover('Basic Ym9iOmJvYi10b2tlbg==', dir), undefined);
    assert.equal(authenticateApprover(undefined, dir), undefined);
    assert.ok(secretMatches('s3cret', 's3cret'));
    assert.ok(!secretMatches('s3cre', 's3cret'));
    assert.ok(!secretMatches(undefined, 's3cret'));
  });

  test('pipeline paths: IDs with slashes raw or encoded, with or without an action', () => {
    assert.deepEqual(parsePipelinePath('/pipelines/pipeline/svc/abc'), {
      workflowId: 'pipeline/svc/abc',
      action: undefined,
    });
    assert.deepEqual(parsePipelinePath('/pipelines/pipeline%2Fsvc%2Fabc'), {
      workflowId: 'pipeline/svc/abc',
      action: undefined,
    });
    assert.deepEqual(parsePipelinePath('/pipelines/pipeline%2Fsvc%2Fabc/approvals'), {
      workflowId: 'pipeline/svc/abc',
      action: 'approvals',
    });
    assert.deepEqual(parsePipelinePath('/pipelines/pipeline/svc/abc/rejections'), {
      workflowId: 'pipeline/svc/abc',
      action: 'rejections',
    });
    assert.deepEqual(parsePipelinePath('/pipelines/pipeline/svc/abc/rerun'), {
      workflowId: 'pipeline/svc/abc',
      action: 'rerun',
    });
    assert.throws(() => parsePipelinePath('/pipelines/%E0%A4%A'), /URL encoding/);
  });

  test('a promotion says where its image came from and that nothing was built', () => {
    const note = 'promoted from pipeline/hello-node/3f2c9e1d0b7a4c5e8f90123456789abcdef01234, no build';
    const promoted = status({
      workflowId: 'promotion/hello-node/3f2c9e1d0b7a4c5e8f90123456789abcdef01234/production/x',
      build: { digestRef: 'registry/hello-node@sha256:abc', finishedAt: at(2) },
      promotion: { to: 'production', requestedBy: 'alice', source: 'pipeline', alreadyRan: ['test'], note },
    });
    assert.match(renderStatusTable(promoted, t0 + 100_000), new RegExp(`Build +${note} \\(requested by alice\\)`));
    assert.match(renderStages(promoted, t0 + 100_000)[1] ?? '', new RegExp(`build .*\\(${note}\\)`));
    assert.match(describePipeline(promoted), new RegExp(`${note} \\(requested by alice\\)`));
  });
});
