// Reading failures inside workflow code: the one place that knows how an activity's own error sits
// inside Temporal's ActivityFailure wrapper.
import { ActivityFailure, ApplicationFailure } from '@temporalio/workflow';

/** The message worth showing: an activity's own failure rather than "Activity task failed". */
export function describeError(err: unknown): string {
  if (err instanceof ActivityFailure && err.cause) return err.cause.message;
  return err instanceof Error ? err.message : String(err);
}

/** An activity failed with an error that retrying (or another host) cannot fix. */
export function isNonRetryable(err: unknown): boolean {
  return err instanceof ActivityFailure && err.cause instanceof ApplicationFailure && err.cause.nonRetryable === true;
}

/** An activity failed with the given ApplicationFailure type (one of common/errors' NonRetryable). */
export function isFailureOfType(err: unknown, type: string): boolean {
  return err instanceof ActivityFailure && err.cause instanceof ApplicationFailure && err.cause.type === type;
}
