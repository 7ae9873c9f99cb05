// The soak's and the metric checks' decisions (workflows/lane/verify.ts), as plain code: what a
// look at the new version means against the baseline, and when a metric breach has lasted long
// enough to fail the deploy.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { DeploymentSnapshot, ObservedTask } from '../../activities/verify';
import { MetricWatch, SoakWatch } from '../../workflows/lane/verify';

const task = (id: string, healthy: boolean | null = true, state = 'TASK_RUNNING'): ObservedTask => ({
  id,
  state,
  healthy,
});
const look = (tasks: ObservedTask[], extra: Partial<DeploymentSnapshot> = {}): DeploymentSnapshot => ({
  instances: 2,
  tasks,
  ...extra,
});

test('the soak holds while the baseline tasks run healthy; unknown health is not counted against them', () => {
  const watch = new SoakWatch(look([task('a'), task('b')]));
  assert.equal(watch.judge(look([task('a'), task('b')])), undefined);
  assert.equal(watch.judge(look([task('a'), task('b', null)])), undefined, 'health unknown after a leader change');
});

test('a restart, a health flap, too few instances or a foreign deploy each fail the soak, named', () => {
  const watch = new SoakWatch(look([task('a'), task('b')]));
  assert.equal(
    watch.judge(look([task('a'), task('c')], { lastTaskFailure: 'TASK_FAILED: exit 137' })),
    'task b stopped and was restarted or replaced (last task failure: TASK_FAILED: exit 137)',
  );
  assert.equal(watch.judge(look([task('a'), task('b', false)])), 'task b failed its health check');
  assert.equal(watch.judge(look([task('a'), task('b', null, 'TASK_STAGING')])), '1 of 2 instances running and healthy');
  assert.equal(
    watch.judge(look([task('a'), task('b')], { changedTo: '2026-12-01T10:00:00.000Z' })),
    'the app was changed to version 2026-12-01T10:00:00.000Z by another deployment',
  );
});

test('a metric breach fails once it has lasted `for`; a recovery starts the count again; without a soak at once', () => {
  const checks = [{ query: 'errors', max: 0.05, forSeconds: 60, noData: 'fail' as const }];
  const breach = { value: 0.2, series: 1, breach: 'metric `errors` is 0.2, above max 0.05' };
  const fine = { value: 0.01, series: 1 };
  const watch = new MetricWatch(checks, true);
  assert.equal(watch.note(0, breach, 0), undefined);
  assert.equal(watch.note(0, breach, 30_000), undefined);
  assert.equal(watch.note(0, fine, 45_000), undefined, 'recovered');
  assert.equal(watch.note(0, breach, 60_000), undefined, 'a new breach counts from here');
  assert.equal(watch.note(0, breach, 120_000), 'metric `errors` is 0.2, above max 0.05 for 1m');
  assert.equal(new MetricWatch(checks, false).note(0, breach, 0), 'metric `errors` is 0.2, above max 0.05');
});
