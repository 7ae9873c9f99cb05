// Secret references in a service's config (`env` of the app, `build.buildArgs`), resolved on the
// worker at the moment of use: `{ secret: { env: NAME } }` reads the worker's environment,
// `{ secret: { file: /path } }` a file on the worker (one trailing newline dropped, as secret
// files written by `echo` or mounted by orchestrators carry one). The plan and the rendered app
// travel through workflow history holding the references only; the activity that talks to
// Marathon or Docker swaps them for values right before sending, and neither returns them,
// logs them or puts them in an error.
import { readFileSync, statSync } from 'node:fs';
import { ApplicationFailure } from '@temporalio/activity';
import type { ConfigValue, SecretRef } from '../common/config';
import { NonRetryable } from '../common/errors';

/** Larger secret files are a mistake (a certificate chain fits many times over). */
const maxSecretFileBytes = 64 * 1024;

function isSecretRef(value: unknown): value is SecretRef {
  if (typeof value !== 'object' || value === null || !('secret' in value)) return false;
  const secret = (value as { secret: unknown }).secret;
  return typeof secret === 'object' && secret !== null && ('env' in secret || 'file' in secret);
}

function refused(where: string, why: string): ApplicationFailure {
  return ApplicationFailure.nonRetryable(`${where}: ${why} on this worker`, NonRetryable.BadConfig);
}

function resolveOne(ref: SecretRef, where: string, env: NodeJS.ProcessEnv): string {
  if ('env' in ref.secret) {
    const value = env[ref.secret.env];
    if (value === undefined) throw refused(where, `the secret's environment variable ${ref.secret.env} is not set`);
    return value;
  }
  const file = ref.secret.file;
  let size: number;
  try {
    size = statSync(file).size;
  } catch (err) {
    throw refused(where, `the secret file ${file} cannot be read (${(err as NodeJS.ErrnoException).code})`);
  }
  if (size > maxSecretFileBytes) throw refused(where, `the secret file ${file} is larger than 64 KiB`);
  return readFileSync(file, 'utf8').replace(/\r?\n$/, '');
}

/** Values for a map of literal values and secret references; `field` names the map in errors. */
export function resolveSecretValues(
  values: Record<string, ConfigValue | unknown>,
  field: string,
  env: NodeJS.ProcessEnv = process.env,
): Record<string, string> {
  return Object.fromEntries(
    Object.entries(values).map(([key, value]) => [
      key,
      isSecretRef(value) ? resolveOne(value, `${field}.${key}`, env) : (value as string),
    ]),
  );
}

/** Whether a rendered app or a map holds a reference still to resolve. */
export function holdsSecretRefs(values: Record<string, unknown> | undefined): boolean {
  return Object.values(values ?? {}).some(isSecretRef);
}

/**
 * A copy of a rendered Marathon app with its env's secret references replaced by their values.
 * Marathon's own `{ "secret": "<name>" }` (a string) is left for Marathon to resolve.
 */
export function resolveAppSecrets<T extends Record<string, unknown>>(app: T, env: NodeJS.ProcessEnv = process.env): T {
  const appEnv = app.env as Record<string, unknown> | undefined;
  if (!holdsSecretRefs(appEnv)) return app;
  return { ...app, env: resolveSecretValues(appEnv!, 'env', env) };
}
