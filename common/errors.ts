// Error names that decide retryability where the error is born, not where it is caught. Activities throw
// ApplicationFailure.nonRetryable(message, <one of these>) for what retrying cannot fix; the
// workflow lists them in nonRetryableErrorTypes as a second guard.

export const NonRetryable = {
  /** The deploy config or a service definition is invalid. */
  BadConfig: 'BadConfig',
  /** A template failed to render (syntax error, missing variable). */
  TemplateError: 'TemplateError',
  /** A Docker build step failed; retrying builds the same failure. */
  BuildFailed: 'BuildFailed',
  /** The repository or commit does not exist / cannot be read with the given credentials. */
  SourceUnavailable: 'SourceUnavailable',
  /** Marathon rejected the app definition (422) or the request (400). */
  MarathonRejected: 'MarathonRejected',
  /** Credentials were refused (401/403) by Marathon, the registry or GitLab. */
  Unauthorized: 'Unauthorized',
  /** A Marathon deployment did not become healthy within Slipway's timeout. */
  HealthTimeout: 'HealthTimeout',
  /** Marathon app is locked by a deployment that is not ours and forcing is not allowed. */
  ForeignDeployment: 'ForeignDeployment',
  /** The repository holds what the build host must not act on (a symbolic link on a path Slipway reads or writes). */
  UnsafeRepository: 'UnsafeRepository',
  /** A promotion, rerun or rollback to a commit has nothing to work with (never built, never ran there). */
  NotPromotable: 'NotPromotable',
} as const;

export type NonRetryableType = (typeof NonRetryable)[keyof typeof NonRetryable];
export const nonRetryableErrorTypes: string[] = Object.values(NonRetryable);

/** Thrown by config loading; carries what a human needs to fix the file. */
export class ConfigError extends Error {
  override name = 'ConfigError';
  constructor(
    message: string,
    readonly file?: string,
    readonly field?: string,
  ) {
    super(message);
  }
}
