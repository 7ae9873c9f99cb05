// Real git repositories for tests: git run in a folder with a fixed identity, and the failure an
// activity is expected to end with.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { ApplicationFailure } from '@temporalio/common';

export function git(dir: string, ...args: string[]): string {
  return execFileSync('git', args, {
    cwd: dir,
    encoding: 'utf8',
    env: {
      ...process.env,
      GIT_AUTHOR_NAME: 'Carol',
      GIT_AUTHOR_EMAIL: 'carol@example.com',
      GIT_COMMITTER_NAME: 'Carol',
      GIT_COMMITTER_EMAIL: 'carol@example.com',
    },
  }).trim();
}

/** The ApplicationFailure `promise` rejects with; fails the test when it resolves or throws anything else. */
export async function expectApplicationFailure(promise: Promise<unknown>): Promise<ApplicationFailure> {
  try {
    await promise;
  } catch (err) {
    assert.ok(err instanceof ApplicationFailure, `expected an ApplicationFailure, got ${String(err)}`);
    return err;
  }
  assert.fail('expected a failure');
}
