// Which git credential goes where. A service's config names its repository URL, and a service team
// owns that config: the build worker's token must not follow the URL to any host it names. The
// token goes only to the configured GitLab (GITLAB_URL: same host and port, same scheme), and only
// over https, plain http being allowed for loopback (tests, a local GitLab). SLIPWAY_GIT_TOKEN,
// when set, is the clone credential; GITLAB_TOKEN (the API token) is the fallback.

function isLoopback(hostname: string): boolean {
  return hostname === 'localhost' || /^127\./.test(hostname) || hostname === '[::1]';
}

/** The clone token: SLIPWAY_GIT_TOKEN, else GITLAB_TOKEN. */
export function gitToken(env: NodeJS.ProcessEnv = process.env): string | undefined {
  return env.SLIPWAY_GIT_TOKEN || env.GITLAB_TOKEN || undefined;
}

/** Every token value that must never show in a log line or an error. */
export function gitSecrets(env: NodeJS.ProcessEnv = process.env): string[] {
  return [env.SLIPWAY_GIT_TOKEN, env.GITLAB_TOKEN].filter((t): t is string => Boolean(t));
}

function parse(url: string | undefined): URL | undefined {
  if (!url) return undefined;
  try {
    return new URL(url);
  } catch {
    return undefined;
  }
}

/**
 * The `Authorization` header line for fetching `repoUrl`, or undefined when no credential may go
 * there. GitLab accepts personal, project and group access tokens as the password of HTTP basic
 * auth.
 */
export function gitCredentialHeader(repoUrl: string, env: NodeJS.ProcessEnv = process.env): string | undefined {
  const token = gitToken(env);
  const repo = parse(repoUrl);
  const gitlab = parse(env.GITLAB_URL);
  if (!token || !repo || !gitlab) return undefined;
  const secure = repo.protocol === 'https:' || (repo.protocol === 'http:' && isLoopback(repo.hostname));
  if (!secure || repo.protocol !== gitlab.protocol || repo.host.toLowerCase() !== gitlab.host.toLowerCase()) {
    return undefined;
  }
  const user = env.SLIPWAY_GIT_USERNAME || 'oauth2';
  return `Authorization: Basic ${Buffer.from(`${user}:${token}`).toString('base64')}`;
}
