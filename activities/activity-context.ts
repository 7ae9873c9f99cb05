// Activities here also run outside Temporal (the CLI, tests calling them directly), where
// Context.current() throws. This answers "am I inside an activity?" once, for all of them.
import { Context } from '@temporalio/activity';

export function currentActivity(): Context | undefined {
  try {
    return Context.current();
  } catch {
    return undefined;
  }
}
