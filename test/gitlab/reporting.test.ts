// GitLab reporting activities against a local fake of GitLab's API (./fake-gitlab.ts), run in
// Temporal's MockActivityEnvironment so they see an activity context like on a worker.
import { after, before, beforeEach, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { ApplicationFailure } from '@temporalio/common';
import { MockActivityEnvironment } from '@temporalio/testing';
import { createGitlabActivities, type CommitStatusInput, type DeploymentInput } from '../../activities/gitlab';
import { startFakeGitlab, type FakeGitlab } from './fake-gitlab';

const token = 'glpat-secret-0123456789';
const sha = 'da1560886d4f094c3e6c9ef40349f7d38b5d27d7';
let gitlab: FakeGitlab;
let acts: ReturnType<typeof createGitlabActivities>;
const env = new MockActivityEnvironment({
  workflowExecution: { workflowId: `pipeline/diaspora/${sha}`, runId: 'run-1' },
  workflowNamespace: 'default',
});

before(async () => {
  gitlab = await startFakeGitlab({ token, projects: { 'mike/diaspora': { id: 15, refs: ['master', 'v1.0.0'] } } });
  acts = createGitlabActivities({ baseUrl: gitlab.url, token, timeoutMs: 2000 });
  process.env.SLIPWAY_TEMPORAL_UI_URL = 'http://127.0.0.1:8233';
});
after(async () => {
  delete process.env.SLIPWAY_TEMPORAL_UI_URL;
  await gitlab?.close();
});
beforeEach(() => {
  gitlab.requests.length = 0;
  gitlab.statuses.length = 0;
  gitlab.deployments.length = 0;
  gitlab.hideStatusReads(false);
});

const commitStatus = (input: CommitStatusInput) =>
  env.run<[CommitStatusInput], Awaited<ReturnType<typeof acts.reportCommitStatus>>, typeof acts.reportCommitStatus>(
    acts.reportCommitStatus,
    input,
  );
const deployment = (input: DeploymentInput) =>
  env.run<[DeploymentInput], Awaited<ReturnType<typeof acts.reportDeployment>>, typeof acts.reportDeployment>(
    acts.reportDeployment,
    input,
  );
const posts = () => gitlab.requests.filter((r) => r.method !== 'GET');
const noToken = (value: unknown) =>
  assert.ok(!JSON.stringify(value ?? null).includes(token), 'the token never appears in results or errors');

async function failure(p: Promise<unknown>): Promise<ApplicationFailure | Error> {
  try {
    await p;
  } catch (err) {
    return err as Error;
  }
  throw new Error('expected a failure');
}

describe('reportCommitStatus', () => {
  test('is a no-op returning null when GITLAB_URL / GITLAB_TOKEN are not set', async () => {
    const off = createGitlabActivities({ baseUrl: undefined, token: undefined });
    const saved = { url: process.env.GITLAB_URL, token: process.env.GITLAB_TOKEN };
    assert.ok(!saved.url && !saved.token, 'test environment has no GitLab configured');
    assert.equal(await off.reportCommitStatus({ project: 'mike/diaspora', sha, state: 'running' }), null);
    assert.equal(
      await off.reportDeployment({
        project: 'mike/diaspora',
        sha,
        ref: 'master',
        tag: false,
        environment: 'test',
        status: 'running',
      }),
      null,
    );
    assert.equal(gitlab.requests.length, 0);
  });

  test('pending -> running -> success, posting only on a change of state, with the Temporal UI link', async () => {
    const report = (state: 'pending' | 'running' | 'success') =>
      commitStatus({
        project: 'mike/diaspora',
        sha,
        ref: 'master',
        state,
        description: `slipway ${state}`,
      });
    assert.deepEqual(await report('pending'), { posted: true, state: 'pending' });
    assert.deepEqual(await report('running'), { posted: true, state: 'running' });
    assert.deepEqual(await report('running'), { posted: false, state: 'running' });
    assert.deepEqual(await report('success'), { posted: true, state: 'success' });
    assert.equal(posts().length, 3);
    for (const p of gitlab.requests) assert.equal(p.token, token, 'PRIVATE-TOKEN header on every call');
    const status = gitlab.statuses[0]!;
    assert.equal(status.status, 'success');
    assert.equal(status.name, 'slipway');
    assert.equal(
      status.target_url,
      `http://127.0.0.1:8233/namespaces/default/workflows/${encodeURIComponent(`pipeline/diaspora/${sha}`)}`,
    );
    assert.ok(posts().every((p) => !JSON.stringify(p.body).includes(token)));
  });

  test('a retry whose first post landed unseen is accepted (GitLab: "Cannot transition status")', async () => {
    await commitStatus({ project: 'mike/diaspora', sha, ref: 'master', state: 'running' });
    gitlab.hideStatusReads(true);
    const again = await commitStatus({
      project: 'mike/diaspora',
      sha,
      ref: 'master',
      state: 'running',
    });
    assert.deepEqual(again, { posted: false, state: 'running' });
    const last = gitlab.requests.at(-1)!;
    assert.equal(last.method, 'POST', 'the post was tried and refused by the fake');
  });

  test("long descriptions are clipped to GitLab's 255 characters instead of being refused", async () => {
    await commitStatus({
      project: 'mike/diaspora',
      sha,
      state: 'failed',
      description: 'x'.repeat(400),
    });
    assert.equal(gitlab.statuses[0]!.description!.length, 255);
  });

  test('a bad token fails at once (non-retryable), without the token in the message', async () => {
    const bad = createGitlabActivities({ baseUrl: gitlab.url, token: 'wrong-token-value' });
    const err = await failure(
      env.run<[CommitStatusInput], unknown, typeof bad.reportCommitStatus>(bad.reportCommitStatus, {
        project: 'mike/diaspora',
        sha,
        state: 'running',
      }),
    );
    assert.ok(err instanceof ApplicationFailure);
    assert.equal(err.type, 'Unauthorized');
    assert.equal(err.nonRetryable, true);
    assert.match(err.message, /401 401 Unauthorized/);
    assert.ok(!err.message.includes('wrong-token-value'));
  });

  test('GitLab errors 5xx are retryable errors without the token', async () => {
    gitlab.failNext(1);
    const err = await failure(commitStatus({ project: 'mike/diaspora', sha, state: 'running' }));
    assert.ok(!(err instanceof ApplicationFailure), 'a plain Error: the retry policy retries it');
    assert.match(err.message, /500/);
    noToken(err.message);
  });
});

describe('reportDeployment', () => {
  test('running -> success creates one deployment and updates it; a retried create reuses the running one', async () => {
    const base = { project: 'mike/diaspora', sha, ref: 'master', tag: false, environment: 'production' } as const;
    const created = await deployment({ ...base, status: 'running' });
    assert.ok(created && created.deploymentId > 0);
    const retried = await deployment({ ...base, status: 'running' });
    assert.deepEqual(retried, created, 'no second deployment for the same sha while one runs');
    const done = await deployment({
      ...base,
      status: 'success',
      deploymentId: created!.deploymentId,
    });
    assert.deepEqual(done, created);
    const doneAgain = await deployment({
      ...base,
      status: 'success',
      deploymentId: created!.deploymentId,
    });
    assert.deepEqual(doneAgain, created, 'the same final status again is accepted (a retried attempt)');
    assert.equal(gitlab.deployments.length, 1);
    assert.deepEqual(
      { ...gitlab.deployments[0], id: 0, iid: 0 },
      { id: 0, iid: 0, environment: 'production', sha, ref: 'master', tag: false, status: 'success' },
    );
    noToken([created, done]);
  });

  test("a tag deployment names the tag; an unknown ref is refused with GitLab's reason, non-retryable", async () => {
    const tagged = await deployment({
      project: 'mike/diaspora',
      sha,
      ref: 'v1.0.0',
      tag: true,
      environment: 'test',
      status: 'running',
    });
    assert.ok(tagged);
    assert.equal(gitlab.deployments[0]!.tag, true);
    const err = await failure(
      deployment({
        project: 'mike/diaspora',
        sha,
        ref: 'nope',
        tag: false,
        environment: 'test',
        status: 'running',
      }),
    );
    assert.ok(err instanceof ApplicationFailure);
    assert.equal(err.nonRetryable, true);
    assert.match(err.message, /The branch or tag does not exist/);
  });

  test('an invalid transition of a finished deployment is refused', async () => {
    const base = { project: 'mike/diaspora', sha, ref: 'master', tag: false, environment: 'integration' } as const;
    const d = await deployment({ ...base, status: 'running' });
    await deployment({ ...base, status: 'failed', deploymentId: d!.deploymentId });
    const err = await failure(deployment({ ...base, status: 'success', deploymentId: d!.deploymentId }));
    assert.ok(err instanceof ApplicationFailure);
    assert.match(err.message, /Cannot transition/);
  });
});
