// Real git repositories for tests: git run in a folder with a fixed identity, and the failure an
// activity is expected to end with.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { ApplicationFailure } from '@temporalio/common';

/** git in a folder, committing as the given person (tests and benchmarks each have their own). */
export function gitAs(name: string, email: string) {
  return (dir: string, ...args: string[]): string =>
    execFileSync('git', args, {
      cwd: dir,
      encoding: 'utf8',
      env: {
        ...process.env,
        GIT_AUTHOR_NAME: name,
        GIT_AUTHOR_EMAIL: email,
        GIT_COMMITTER_NAME: name,
        GIT_COMMITTER_EMAIL: email,
      },
    }).trim();
}

export const git = gitAs('Carol', 'carol@example.com');

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
