// The Docker Registry HTTP API v2, for what the Docker Engine API cannot answer: the digest a tag
// points to, whether a manifest is already there, and retagging a manifest without a rebuild or a
// pull. Credentials come from the worker's environment (SLIPWAY_REGISTRY_USERNAME/_PASSWORD) and
// serve both Basic registries and token-auth registries (a Bearer challenge answered at its realm).
// Loopback registries are spoken to over http, as dockerd does; others over https unless listed in
// SLIPWAY_REGISTRY_INSECURE (comma-separated hosts).
import { ApplicationFailure } from '@temporalio/activity';
import { NonRetryable } from '../common/errors';

export const manifestMediaTypes = [
  'application/vnd.docker.distribution.manifest.v2+json',
  'application/vnd.oci.image.manifest.v1+json',
  'application/vnd.docker.distribution.manifest.list.v2+json',
  'application/vnd.oci.image.index.v1+json',
];

export interface ImageReference {
  /** host[:port], e.g. 127.0.0.1:5000 */
  registry: string;
  /** repository path inside the registry, e.g. team/hello-node */
  name: string;
  tag?: string;
  digest?: string;
}

/** Splits `host[:port]/name[:tag][@sha256:...]`; the registry host is mandatory (Slipway never pushes to Docker Hub). */
export function parseImageReference(ref: string): ImageReference {
  const m = ref.match(
    /^([^/]+)\/([a-z0-9](?:[a-z0-9._/-]*[a-z0-9])?)(?::([\w][\w.-]{0,127}))?(?:@(sha256:[0-9a-f]{64}))?$/,
  );
  if (!m || !/[.:]|^localhost$/.test(m[1]!)) {
    throw ApplicationFailure.nonRetryable(
      `image reference "${ref}" is not of the form registry-host[:port]/name[:tag][@sha256:digest]`,
      NonRetryable.BadConfig,
    );
  }
  return { registry: m[1]!, name: m[2]!, tag: m[3], digest: m[4] };
}

export function registryCredentials(): { username: string; password: string } | undefined {
  const username = process.env.SLIPWAY_REGISTRY_USERNAME;
  const password = process.env.SLIPWAY_REGISTRY_PASSWORD;
  return username && password ? { username, password } : undefined;
}

function baseUrl(registry: string): string {
  const host = registry.replace(/:\d+$/, '');
  const insecure = (process.env.SLIPWAY_REGISTRY_INSECURE ?? '').split(',').map((s) => s.trim());
  const loopback = host === 'localhost' || /^127\./.test(host) || host === '[::1]';
  return `${loopback || insecure.includes(registry) || insecure.includes(host) ? 'http' : 'https'}://${registry}`;
}

function parseChallenge(header: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const m of header.matchAll(/(\w+)="([^"]*)"/g)) out[m[1]!] = m[2]!;
  return out;
}

/**
 * A registry answer that is not what was asked for. 4xx (but 429 Too Many Requests) says the
 * request itself is wrong (an invalid name or manifest, an unknown repository): retrying sends
 * the same request, so it fails at once. 429, 5xx and the rest may pass: those retry.
 */
function unexpectedAnswer(status: number, message: string): Error {
  if (status >= 400 && status < 500 && status !== 429) {
    return ApplicationFailure.nonRetryable(
      `${message} (a ${status} is not retried: the request itself was refused)`,
      NonRetryable.BuildFailed,
    );
  }
  return new Error(message);
}

export interface RegistryResponse {
  status: number;
  headers: Headers;
  body: Buffer;
}

/** One registry client per operation: it remembers the Bearer token a challenge gave it. */
export class RegistryClient {
  private authorization: string | undefined;

  constructor(private readonly registry: string) {
    const creds = registryCredentials();
    // Basic first; a token-auth registry answers 401 with a Bearer challenge and we follow it.
    if (creds) this.authorization = `Basic ${Buffer.from(`${creds.username}:${creds.password}`).toString('base64')}`;
  }

  async request(
    method: string,
    path: string,
    headers: Record<string, string> = {},
    body?: Buffer,
  ): Promise<RegistryResponse> {
    const url = `${baseUrl(this.registry)}${path}`;
    const send = async (): Promise<RegistryResponse> => {
      const res = await fetch(url, {
        method,
        headers: { ...headers, ...(this.authorization ? { Authorization: this.authorization } : {}) },
        body,
        redirect: 'follow',
        signal: AbortSignal.timeout(30_000),
      }).catch((err: Error) => {
        throw new Error(
          `registry ${this.registry} unreachable (${method} ${path}): ${err.cause instanceof Error ? err.cause.message : err.message}`,
        );
      });
      return { status: res.status, headers: res.headers, body: Buffer.from(await res.arrayBuffer()) };
    };
    let res = await send();
    const challenge = res.headers.get('www-authenticate') ?? '';
    if (res.status === 401 && /^Bearer /i.test(challenge)) {
      await this.fetchToken(parseChallenge(challenge));
      res = await send();
    }
    if (res.status === 401 || res.status === 403) {
      throw ApplicationFailure.nonRetryable(
        `registry ${this.registry} refused ${method} ${path} (${res.status}); check SLIPWAY_REGISTRY_USERNAME/SLIPWAY_REGISTRY_PASSWORD on the build workers`,
        NonRetryable.Unauthorized,
      );
    }
    return res;
  }

  private async fetchToken(challenge: Record<string, string>): Promise<void> {
    if (!challenge.realm) return;
    const url = new URL(challenge.realm);
    if (challenge.service) url.searchParams.set('service', challenge.service);
    if (challenge.scope) url.searchParams.set('scope', challenge.scope);
    const creds = registryCredentials();
    const headers: Record<string, string> = creds
      ? { Authorization: `Basic ${Buffer.from(`${creds.username}:${creds.password}`).toString('base64')}` }
      : {};
    const res = await fetch(url, { headers, signal: AbortSignal.timeout(30_000) });
    if (!res.ok) return; // the retried request then fails with the registry's own 401
    const json = (await res.json()) as { token?: string; access_token?: string };
    const token = json.token ?? json.access_token;
    if (token) this.authorization = `Bearer ${token}`;
  }

  /** The manifest a tag or digest points to, or undefined when there is none. */
  async getManifest(
    name: string,
    reference: string,
  ): Promise<{ digest: string; mediaType: string; body: Buffer } | undefined> {
    const res = await this.request('GET', `/v2/${name}/manifests/${reference}`, {
      Accept: manifestMediaTypes.join(', '),
    });
    if (res.status === 404) return undefined;
    if (res.status !== 200)
      throw unexpectedAnswer(
        res.status,
        `registry ${this.registry}: GET manifest ${name}:${reference} answered ${res.status}`,
      );
    const digest = res.headers.get('docker-content-digest');
    if (!digest)
      throw new Error(`registry ${this.registry}: GET manifest ${name}:${reference} carried no Docker-Content-Digest`);
    const mediaType = res.headers.get('content-type')?.split(';')[0] ?? manifestMediaTypes[0]!;
    return { digest, mediaType, body: res.body };
  }

  /** Stores a manifest under a tag; answers the digest the registry computed. */
  async putManifest(name: string, tag: string, mediaType: string, body: Buffer): Promise<string> {
    const res = await this.request('PUT', `/v2/${name}/manifests/${tag}`, { 'Content-Type': mediaType }, body);
    if (res.status !== 201 && res.status !== 200) {
      throw unexpectedAnswer(
        res.status,
        `registry ${this.registry}: PUT manifest ${name}:${tag} answered ${res.status}: ${res.body.toString().slice(0, 300)}`,
      );
    }
    return res.headers.get('docker-content-digest') ?? '';
  }
}
