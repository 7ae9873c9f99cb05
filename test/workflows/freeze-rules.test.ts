// A pipeline's freeze book without any server: what a freeze does to the status, and who may
// override it — the approval gate's rules (listed, verified where required, not an author), a
// reason, an environment that is frozen and has approvers — with every attempt recorded.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { ApprovalRule, FreezeCheck, PipelinePlan } from '../../common/contract';
import { PipelineRun } from '../../workflows/pipeline/run';

const weekend: Extract<FreezeCheck, { frozen: true }> = {
  frozen: true,
  until: '2026-12-07T07:00:00.000Z',
  reasons: ['weekend'],
  timezone: 'Europe/Berlin',
  untilLocal: '2026-12-07 08:00 Europe/Berlin',
};

function frozenRun(approval: Partial<ApprovalRule> = {}) {
  const run = new PipelineRun(
    {
      service: 'payments',
      commit: 'b'.repeat(40),
      trigger: { kind: 'manual' },
      changedBy: { gitlabUsernames: ['carol'] },
    },
    { workflowId: 'pipeline/payments/bbbb', runId: 'run-1', startTime: new Date('2026-12-05T12:00:00Z') },
    () => new Date('2026-12-05T12:00:00Z'),
  );
  const rule = { approvers: ['alice', 'carol'], timeoutSeconds: 3600, authorMayApprove: false, ...approval };
  const env = (name: string, withRule: boolean) => ({
    name,
    appId: `/${name}/payments`,
    approval: withRule ? rule : undefined,
  });
  run.planned({ environments: [env('test', false), env('production', true)] } as PipelinePlan);
  return run;
}

test('a freeze holds the environment and the pipeline; thawing lets it go on; the record stays', () => {
  const run = frozenRun();
  run.freezes.freeze('production', weekend);
  assert.equal(run.status.state, 'frozen');
  assert.equal(run.focusEnvironment(), 'production');
  const since = run.environment('production').freeze?.since;
  run.freezes.freeze('production', { ...weekend, until: '2026-12-08T07:00:00.000Z', reasons: ['maintenance'] });
  assert.equal(run.environment('production').freeze?.since, since, 'a second window keeps when the freeze began');
  assert.deepEqual(run.environment('production').freeze?.reasons, ['maintenance']);
  run.freezes.thaw('production');
  assert.equal(run.environment('production').state, 'pending');
  assert.equal(run.environment('production').freeze?.until, '2026-12-08T07:00:00.000Z');
  run.freezes.freeze('production', weekend);
  run.skipPending();
  assert.equal(run.environment('production').state, 'skipped', 'a pipeline that ends while frozen skips it');
});

test('overrides: refused with why and recorded, unless an approver who is no author gives a reason', () => {
  const run = frozenRun();
  const attempt = (request: { environment: string; approver: string; reason?: string }) =>
    run.freezes.record(run.freezes.receive(request as never, 'signal'));
  assert.match(
    attempt({ environment: 'production', approver: 'alice', reason: 'x' }).refusal ?? '',
    /production is not frozen \(it is pending\)/,
  );
  run.freezes.freeze('production', weekend);
  assert.match(
    attempt({ environment: 'production', approver: 'mallory', reason: 'x' }).refusal ?? '',
    /mallory may not decide for production/,
  );
  assert.match(
    attempt({ environment: 'production', approver: 'carol', reason: 'x' }).refusal ?? '',
    /carol is an author of this change/,
  );
  assert.match(
    attempt({ environment: 'production', approver: 'alice', reason: '  ' }).refusal ?? '',
    /expected "reason"/,
  );
  assert.equal(run.freezes.overriddenFor('production'), false);
  const ok = attempt({ environment: 'production', approver: 'alice', reason: 'hotfix' });
  assert.equal(ok.accepted, true);
  assert.equal(run.freezes.overriddenFor('production'), true);
  assert.deepEqual(
    [run.environment('production').freeze?.overriddenBy, run.environment('production').freeze?.overrideReason],
    ['alice', 'hotfix'],
  );
  assert.deepEqual(
    run.status.freezeOverrides?.map((o) => o.accepted),
    [false, false, false, false, true],
  );
});

test('overrides: an environment without approvers cannot be overridden; requireVerified needs the API', () => {
  const run = frozenRun({ requireVerified: true });
  run.freezes.freeze('test', weekend);
  assert.match(
    run.freezes.refusal({ environment: 'test', approver: 'alice', reason: 'x' }) ?? '',
    /test has no approvers .*it goes on when the freeze ends \(2026-12-07 08:00 Europe\/Berlin\)/,
  );
  run.freezes.thaw('test');
  run.freezes.freeze('production', weekend);
  assert.match(
    run.freezes.refusal({ environment: 'production', approver: 'alice', reason: 'x' }) ?? '',
    /POST \/pipelines\/<id>\/freeze-overrides .*slipway override-freeze <id> --env production --token/,
  );
  const forged = run.freezes.receive(
    { environment: 'production', approver: 'alice', reason: 'x', attestation: 'v2.1.x' },
    'signal',
  );
  assert.equal(forged.accepted, true, 'an attestation passes the rules, pending its check');
  const checked = run.freezes.record(forged, false);
  assert.deepEqual([checked.accepted, checked.channel], [false, 'api']);
  assert.match(checked.refusal ?? '', /attestation does not match/);
  assert.equal(run.freezes.overriddenFor('production'), false);
});
