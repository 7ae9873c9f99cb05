// The ApplicationFailure a synchronous call throws, for tests of bad input: its type, whether it
// may be retried, and its message are what the caller (a workflow, a user) gets to see.
import assert from 'node:assert/strict';
import { ApplicationFailure } from '@temporalio/common';

export function failure(fn: () => unknown): ApplicationFailure {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof ApplicationFailure, `expected an ApplicationFailure, got ${String(err)}`);
    return err;
  }
  assert.fail('expected an error');
}
