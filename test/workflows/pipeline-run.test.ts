// PipelineRun without any server: the decisions a deliveryPipeline makes — approvals and their
// refusals, gate verdicts, what each deploy outcome means — checked as plain method calls.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { ApprovalRule, Identities, PipelinePlan } from '../../common/contract';
import { DeployFailure, PipelineRun, PipelineStop } from '../../workflows/pipeline/run';

const startTime = new Date('2026-11-30T10:00:00.000Z');
const rule = { approvers: ['alice', 'bob'], timeoutSeconds: 3600, authorMayApprove: false };

function plannedRun(
  opts: {
    trigger?: 'manual' | 'gitlab-push';
    rule?: ApprovalRule;
    changedBy?: Identities;
    stableIdentities?: boolean;
  } = {},
) {
  let now = startTime.getTime();
  const clock = () => new Date(now);
  const run = new PipelineRun(
    {
      service: 'payments',
      commit: 'a'.repeat(40),
      ref: 'refs/heads/main',
      trigger: opts.trigger === 'gitlab-push' ? { kind: 'gitlab-push', project: 'team/payments' } : { kind: 'manual' },
      author: { username: 'carol', email: 'carol@example.com' },
      changedBy: 'changedBy' in opts ? opts.changedBy : { gitlabUserIds: [7], gitlabUsernames: ['carol'], emails: [] },
    },
    { workflowId: 'pipeline/payments/aaaa', runId: 'run-1', startTime },
    clock,
    opts.stableIdentities ?? true,
  );
  const env = (name: string, approval?: typeof rule) => ({
    name,
    marathonUrl: 'http://marathon.test',
    appId: `/${name}/payments`,
    approval,
    healthTimeoutSeconds: 60,
    forceOverForeignDeployments: false,
  });
  const plan = { environments: [env('test'), env('production', opts.rule ?? rule)] } as PipelinePlan;
  run.planned(plan);
  return { run, advance: (ms: number) => void (now += ms) };
}

describe('PipelineRun', () => {
  test('starts planning, ordered by its start time, with every planned environment pending', () => {
    const { run } = plannedRun();
    assert.equal(run.status.state, 'planning');
    assert.equal(run.order, startTime.getTime());
    assert.deepEqual(
      run.status.environments.map((e) => [e.name, e.state]),
      [
        ['test', 'pending'],
        ['production', 'pending'],
      ],
    );
    assert.throws(() => run.environment('staging'), /environment "staging" is not in this pipeline's plan/);
    assert.equal(run.gitlabProject, undefined, 'a manual run reports to no GitLab project');
    assert.equal(plannedRun({ trigger: 'gitlab-push' }).run.gitlabProject, 'team/payments');
  });

  test('a gate waits with a deadline; only a listed approver who is not the author may decide', () => {
    const { run, advance } = plannedRun();
    assert.match(run.refusal('approve', { environment: 'production', approver: 'alice' }) ?? '', /not waiting/);
    advance(5000);
    run.startWaiting('production', rule);
    const prod = run.environment('production');
    assert.equal(prod.state, 'waiting-approval');
    assert.equal(prod.approval?.deadline, '2026-11-30T11:00:05.000Z');
    assert.equal(run.focusEnvironment(), 'production');
    assert.match(
      run.refusal('approve', { environment: 'production', approver: 'mallory' }) ?? '',
      /mallory may not decide/,
    );
    assert.match(run.refusal('approve', { environment: 'staging', approver: 'alice' }) ?? '', /unknown environment/);
    assert.equal(run.refusal('approve', { environment: 'production', approver: 'alice' }), undefined);
    assert.equal(run.gateSettled('production'), false);
  });

  test('a refused decision is recorded but settles nothing; the first accepted one wins', () => {
    const { run } = plannedRun();
    run.startWaiting('production', rule);
    const refused = run.recordDecision(
      run.receiveDecision('approve', { environment: 'production', approver: 'eve' }, 'signal'),
    );
    assert.equal(refused.accepted, false);
    assert.equal(run.gateSettled('production'), false);
    const first = run.recordDecision(
      run.receiveDecision('reject', { environment: 'production', approver: 'bob', reason: 'freeze' }, 'update'),
    );
    assert.equal(first.accepted, true);
    const second = run.recordDecision(
      run.receiveDecision('approve', { environment: 'production', approver: 'alice' }, 'update'),
    );
    assert.equal(second.accepted, false);
    assert.equal(second.refusal, 'production was already rejected by bob');
    assert.equal(run.status.decisions.length, 3);
    const verdict = run.gateVerdict('production', rule, true);
    assert.ok(verdict instanceof PipelineStop);
    assert.equal(verdict.state, 'rejected');
    assert.equal(verdict.message, 'production rejected by bob: freeze');
    assert.equal(run.environment('production').state, 'skipped');
  });

  test('an attested decision counts as verified only when its attestation checks out', () => {
    const { run } = plannedRun();
    run.startWaiting('production', rule);
    const claim = { environment: 'production', approver: 'alice', attestation: 'sig' };
    const forged = run.recordDecision(run.receiveDecision('approve', claim, 'signal'), false);
    assert.deepEqual([forged.channel, forged.verified, forged.accepted], ['api', false, false]);
    assert.match(forged.refusal ?? '', /attestation does not match/);
    const genuine = run.recordDecision(run.receiveDecision('approve', claim, 'signal'), true);
    assert.deepEqual([genuine.verified, genuine.accepted], [true, true]);
    assert.equal(run.gateVerdict('production', rule, true), undefined, 'approved: the pipeline goes on');
  });

  test('the gate ends expired without a decision, superseded when a newer pipeline arrived first', () => {
    const expired = plannedRun().run;
    expired.startWaiting('production', rule);
    assert.equal(expired.gateVerdict('production', rule, false)?.message, 'no decision for production within 1h');
    const superseded = plannedRun().run;
    superseded.startWaiting('production', rule);
    superseded.supersede('pipeline/payments/bbbb');
    superseded.supersede('pipeline/payments/cccc');
    assert.equal(superseded.gateSettled('production'), true);
    const stop = superseded.gateVerdict('production', rule, true);
    assert.equal(stop?.state, 'superseded');
    superseded.finish('superseded', stop?.message);
    assert.equal(superseded.status.supersededBy, 'pipeline/payments/bbbb', 'the first newer pipeline is named');
  });

  test('deploy outcomes: healthy goes on, rolled-back and failed fail, refused stops superseded', () => {
    const { run } = plannedRun();
    run.startDeploy('test');
    assert.deepEqual([run.status.state, run.environment('test').state], ['deploying', 'deploying']);
    assert.equal(run.hasOutcome('test'), false);
    assert.equal(
      run.applyProgress({
        environment: 'test',
        pipelineId: 'someone-else',
        deploymentId: 'd',
        version: 'v9',
        previousVersion: null,
      }),
      false,
    );
    assert.equal(
      run.applyProgress({
        environment: 'test',
        pipelineId: run.workflowId,
        deploymentId: 'd1',
        version: 'v2',
        previousVersion: 'v1',
      }),
      true,
    );
    assert.equal(run.environment('test').version, 'v2');
    run.receiveOutcome('test', {
      kind: 'healthy',
      deploymentId: 'd1',
      version: 'v2',
      previousVersion: 'v1',
      imageTag: 'test',
    });
    assert.deepEqual(run.applyOutcome('test'), { report: 'success' });
    assert.deepEqual([run.environment('test').state, run.environment('test').imageTag], ['healthy', 'test']);

    const cases = [
      [
        { kind: 'rolled-back', error: 'unhealthy', deploymentId: null, rolledBackTo: 'v1' },
        'failed',
        'rolled-back',
        'DeployRolledBack',
      ],
      [{ kind: 'failed', error: '422: bad cpus' }, 'failed', 'failed', 'DeployFailed'],
      [{ kind: 'cancelled', rolledBackTo: null }, undefined, 'rolled-back', 'DeployCancelled'],
    ] as const;
    for (const [outcome, report, state, type] of cases) {
      const other = plannedRun().run;
      other.startDeploy('test');
      other.receiveOutcome('test', outcome);
      const result = other.applyOutcome('test');
      assert.equal(result.report, report);
      assert.equal(other.environment('test').state, state);
      assert.ok(result.failure instanceof DeployFailure);
      assert.equal(result.failure.type, type);
    }
    const refused = plannedRun().run;
    refused.startDeploy('test');
    refused.receiveOutcome('test', {
      kind: 'refused',
      reason: 'a newer one runs',
      newerPipelineId: 'pipeline/payments/dddd',
    });
    const stop = refused.applyOutcome('test');
    assert.ok(stop.failure instanceof PipelineStop);
    assert.equal(stop.failure.state, 'superseded');
    refused.finish('superseded', stop.failure.message);
    assert.equal(refused.status.supersededBy, 'pipeline/payments/dddd');
  });

  test('two distinct approvals when two are required; one rejection still ends the gate', () => {
    const { run } = plannedRun({ rule: { ...rule, required: 2 } });
    run.startWaiting('production', { ...rule, required: 2 });
    const approve = (approver: string) =>
      run.recordDecision(run.receiveDecision('approve', { environment: 'production', approver }, 'update'));
    assert.equal(approve('alice').accepted, true);
    assert.equal(run.gateSettled('production'), false, 'one of two approvals');
    assert.match(
      run.refusal('approve', { environment: 'production', approver: 'alice' }) ?? '',
      /alice already approved production; 1 more approval from other approvers needed/,
    );
    assert.equal(approve('bob').accepted, true);
    assert.equal(run.gateSettled('production'), true);
    assert.deepEqual(run.environment('production').approval?.approvedBy, ['alice', 'bob']);
    assert.equal(run.gateVerdict('production', rule, true), undefined);

    const rejected = plannedRun({ rule: { ...rule, required: 2 } }).run;
    rejected.startWaiting('production', { ...rule, required: 2 });
    rejected.recordDecision(
      rejected.receiveDecision('approve', { environment: 'production', approver: 'alice' }, 'update'),
    );
    rejected.recordDecision(
      rejected.receiveDecision('reject', { environment: 'production', approver: 'bob' }, 'update'),
    );
    assert.equal(rejected.gateVerdict('production', rule, true)?.state, 'rejected');
  });

  test('requireVerified: a signal or update without attestation is refused, saying how to approve instead', () => {
    const strict = { ...rule, requireVerified: true };
    const { run } = plannedRun({ rule: strict });
    run.startWaiting('production', strict);
    const refusal = run.refusal('approve', { environment: 'production', approver: 'alice' }) ?? '';
    assert.match(refusal, /production takes only verified decisions/);
    assert.match(refusal, /slipway approve <id> --env production --token/);
    const attested = run.receiveDecision(
      'approve',
      { environment: 'production', approver: 'alice', attestation: 'v2.1.x' },
      'update',
    );
    assert.equal(run.recordDecision(attested, true).accepted, true);
  });

  test("authors by stable identity: the pusher's GitLab ID or a commit email is refused; unknown authors too", () => {
    const identities = {
      alice: { gitlabUserIds: [7], gitlabUsernames: ['alice'] },
      bob: { emails: ['bob@example.com'] },
    };
    const withIds = { ...rule, approverIdentities: identities };
    const pushedByAlice = plannedRun({ rule: withIds, changedBy: { gitlabUserIds: [7], gitlabUsernames: ['al'] } }).run;
    pushedByAlice.startWaiting('production', withIds);
    assert.match(
      pushedByAlice.refusal('approve', { environment: 'production', approver: 'alice' }) ?? '',
      /alice is an author of this change \(gitlab user 7\)/,
    );
    assert.equal(pushedByAlice.refusal('approve', { environment: 'production', approver: 'bob' }), undefined);
    pushedByAlice.learnAuthor('Bob@Example.com');
    assert.match(
      pushedByAlice.refusal('approve', { environment: 'production', approver: 'bob' }) ?? '',
      /bob is an author of this change \(bob@example.com\)/,
      'the checkout names the head commit author; emails compare case-insensitively',
    );
    assert.equal(
      pushedByAlice.refusal('reject', { environment: 'production', approver: 'alice' }),
      undefined,
      'an author may reject',
    );

    const unknown = plannedRun({ rule: withIds, changedBy: undefined }).run;
    unknown.startWaiting('production', withIds);
    assert.match(
      unknown.refusal('approve', { environment: 'production', approver: 'bob' }) ?? '',
      /authors are unknown/,
    );

    const withCarol = { ...rule, approvers: ['alice', 'carol'] };
    const legacy = plannedRun({ rule: withCarol, changedBy: undefined, stableIdentities: false }).run;
    legacy.startWaiting('production', withCarol);
    assert.equal(
      legacy.refusal('approve', { environment: 'production', approver: 'alice' }),
      undefined,
      'pipelines started before the patch keep their rule',
    );
    assert.match(
      legacy.refusal('approve', { environment: 'production', approver: 'carol' }) ?? '',
      /carol wrote this change/,
    );
  });

  test('a cancelled deploy ends as the lane says, or failed when the lane never confirms', () => {
    const confirmed = plannedRun().run;
    confirmed.startDeploy('test');
    confirmed.receiveOutcome('test', { kind: 'cancelled', rolledBackTo: 'v1' });
    confirmed.applyCancelledDeploy('test', true);
    assert.equal(confirmed.environment('test').state, 'rolled-back');
    const silent = plannedRun().run;
    silent.startDeploy('test');
    silent.applyCancelledDeploy('test', false);
    assert.equal(silent.environment('test').state, 'failed');
    assert.match(silent.environment('test').error ?? '', /did not confirm the rollback/);
    silent.skipPending();
    assert.equal(silent.environment('production').state, 'skipped');
  });
});
