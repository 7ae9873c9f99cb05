// What a promotion decides, without any server: which environments of the chain it touches and
// skips, the order it takes among the service's pipelines, and its refusals.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { PipelinePlan, Promotion, PromotionSource } from '../../common/contract';
import { applyPromotion, promotionChain } from '../../workflows/pipeline/promotion-plan';
import { PipelineRun } from '../../workflows/pipeline/run';

const startTime = new Date('2026-11-30T10:00:00.000Z');
const names = ['test', 'integration', 'production'];
const plan = {
  service: 'payments',
  imageRepository: 'registry.test/payments',
  tag: 'aaaaaaaaaaaa',
  environments: names.map((name) => ({ name, marathonUrl: 'm', appId: `/${name}/payments` })),
} as unknown as PipelinePlan;
const image = { digestRef: `registry.test/payments@sha256:${'1'.repeat(64)}` };

function promotionRun(promotion: Partial<Promotion>) {
  const run = new PipelineRun(
    {
      service: 'payments',
      commit: 'a'.repeat(40),
      trigger: { kind: 'manual', user: 'carol' },
      promotion: { to: 'production', requestedBy: 'carol', ...promotion },
    },
    { workflowId: 'promotion/payments/aaaa/production/x', runId: 'run-1', startTime },
    () => startTime,
  );
  run.planned(plan);
  return run;
}

const built: PromotionSource = { pipelineId: 'pipeline/payments/aaaa', image: image.digestRef, order: 1000, ranIn: [] };

describe('promotion plan', () => {
  test('walks the chain up to --to, skipping what the commit already ran in; --only takes --to alone', () => {
    const run = promotionRun({ to: 'production' });
    const deploy = applyPromotion(run, plan, { ...built, ranIn: ['test'] }, image);
    assert.deepEqual(
      deploy.map((e) => e.name),
      ['integration', 'production'],
    );
    assert.equal(run.environment('test').state, 'skipped');
    assert.equal(run.status.promotion?.note, 'promoted from pipeline/payments/aaaa, no build');
    assert.equal(run.order, 1000, "the build's order: a lane running something newer refuses it");
    assert.deepEqual(
      promotionChain(promotionRun({ to: 'integration', only: true }), plan).map((e) => e.name),
      ['integration'],
    );
    assert.deepEqual(
      applyPromotion(promotionRun({ to: 'integration' }), plan, { ...built, ranIn: ['integration'] }, image).map(
        (e) => e.name,
      ),
      ['test', 'integration'],
      '--to is deployed even where the commit runs (a redeploy)',
    );
  });

  test('allowOlder keeps its own start as order; an unknown build time needs it', () => {
    const allowed = promotionRun({ allowOlder: true });
    applyPromotion(allowed, plan, built, image);
    assert.equal(allowed.order, startTime.getTime());
    const registryOnly: PromotionSource = { ranIn: [] };
    assert.throws(
      () => applyPromotion(promotionRun({}), plan, registryOnly, image),
      /build time of .* is unknown: promote it with allowOlder/,
    );
    const dated = promotionRun({});
    applyPromotion(dated, plan, registryOnly, { ...image, createdAt: '2026-11-29T08:00:00.000Z' });
    assert.equal(dated.order, Date.parse('2026-11-29T08:00:00.000Z'));
    assert.match(dated.status.promotion?.note ?? '', /^promoted from registry registry.test\/payments:aaaaaaaaaaaa/);
  });

  test('an environment outside the chain is refused with the chain', () => {
    assert.throws(
      () => promotionChain(promotionRun({ to: 'staging' }), plan),
      /environment "staging" is not in payments's chain \(test, integration, production\)/,
    );
  });
});
