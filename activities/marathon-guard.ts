// Marathon credentials go only to the Marathon URL this worker's deploy config names for that
// environment. Workflow code passes the URL to the Marathon activities, and workflow inputs and
// messages can be forged by anyone with access to the Temporal namespace; so before a credential
// is attached, the URL is checked here, on the worker, against the worker's own config.
import { ApplicationFailure } from '@temporalio/activity';
import { getEnvironment } from '../common/config';
import { NonRetryable } from '../common/errors';
import { MarathonClient, marathonCredentialsFromEnv } from './marathon-client';
import { withConfig } from './plan';

const normalised = (url: string) => url.replace(/\/+$/, '');

/** A Marathon client for `marathonUrl`, refused when it would carry credentials to an unconfigured URL. */
export function configuredMarathonClient(marathonUrl: string, environment?: string): MarathonClient {
  const { credentials } = marathonCredentialsFromEnv(environment);
  if (credentials) {
    const configured = environment ? withConfig((config) => getEnvironment(config, environment).marathon) : undefined;
    if (!configured || normalised(configured) !== normalised(marathonUrl)) {
      throw ApplicationFailure.nonRetryable(
        `Marathon URL ${marathonUrl} is not the one configured for environment ${environment ?? '(none)'}` +
          `${configured ? ` (${configured})` : ''}: Slipway sends that environment's credentials only there`,
        NonRetryable.BadConfig,
      );
    }
  }
  return MarathonClient.fromEnv(marathonUrl, environment);
}
