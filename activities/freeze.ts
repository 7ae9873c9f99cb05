// The freeze check: is this environment in a freeze window (slipway.yaml `freeze:`) at this
// moment, and until when? Answered from the worker's own deploy config, never from a message, so
// nobody who can signal a workflow can shorten a freeze. The moment is the workflow's clock (passed
// in): the check answers for the time the pipeline asks about, which also keeps a time-skipped
// test and a replayed history consistent with the timer the workflow then sets.
import { ApplicationFailure } from '@temporalio/activity';
import { NonRetryable } from '../common/errors';
import { freezeAt, type FreezeCheck, type FreezeWindowConfig } from '../common/freeze-windows';
import { withConfig } from './plan';

export interface FreezeCheckInput {
  environment: string;
  /** ISO time to check at: the workflow's now. */
  at: string;
}

export function createFreezeActivities(deps: { windows?: () => FreezeWindowConfig[] | undefined } = {}) {
  const windows = deps.windows ?? (() => withConfig((config) => config.freeze));
  return {
    async checkFreeze(input: FreezeCheckInput): Promise<FreezeCheck> {
      const at = new Date(input.at);
      if (Number.isNaN(at.getTime()))
        throw ApplicationFailure.nonRetryable(
          `checkFreeze: "at" is ${JSON.stringify(input.at)}: expected an ISO time`,
          NonRetryable.BadConfig,
        );
      return freezeAt(windows() ?? [], input.environment, at);
    },
  };
}
