// Who may talk to the server. GitLab proves itself with the shared X-Gitlab-Token (a plain
// secret, not a signature: compared in constant time). Approvers prove themselves with personal
// bearer tokens, from SLIPWAY_APPROVER_TOKEN_<NAME> or as sha256 digests in the deploy config's
// `approverTokens`; only the digest of a presented token is ever compared, never logged.
import { createHash, createHmac, timingSafeEqual } from 'node:crypto';

const sha256 = (text: string) => createHash('sha256').update(text, 'utf8').digest();

/** Constant-time equality that does not leak the length either: both sides are hashed first. */
export function secretMatches(given: string | undefined, expected: string): boolean {
  if (given === undefined) return false;
  return timingSafeEqual(sha256(given), sha256(expected));
}

export interface ApproverDirectory {
  /** (name, sha256 digest of a token): a name may hold several tokens, e.g. while rotating one. */
  entries: [string, Buffer][];
}

const envPrefix = 'SLIPWAY_APPROVER_TOKEN_';

/**
 * Approver tokens from both sources. An environment variable SLIPWAY_APPROVER_TOKEN_ALICE names
 * approver "alice" (lowercased, as approver names in slipway.yaml usually are).
 */
export function approverDirectory(
  configDigests: Record<string, string>,
  env: NodeJS.ProcessEnv = process.env,
): ApproverDirectory {
  const entries: [string, Buffer][] = Object.entries(configDigests).map(([name, hex]) => [
    name,
    Buffer.from(hex, 'hex'),
  ]);
  for (const [key, value] of Object.entries(env)) {
    if (key.startsWith(envPrefix) && value) entries.push([key.slice(envPrefix.length).toLowerCase(), sha256(value)]);
  }
  return { entries };
}

/** The approver a bearer token belongs to, or undefined. Checks every entry, so timing says nothing. */
export function authenticateApprover(
  authorization: string | undefined,
  directory: ApproverDirectory,
): string | undefined {
  const match = /^Bearer\s+(\S+)\s*$/i.exec(authorization ?? '');
  if (!match) return undefined;
  const presented = sha256(match[1] as string);
  let found: string | undefined;
  for (const [name, digest] of directory.entries) {
    if (digest.length === presented.length && timingSafeEqual(digest, presented) && found === undefined) found = name;
  }
  return found;
}

/**
 * GitLab 19's signed webhooks (the Standard Webhooks scheme): `webhook-signature: v1,<base64
 * HMAC-SHA256 of "{webhook-id}.{webhook-timestamp}.{body}">` (several space-separated), keyed
 * with the base64 part of the `whsec_...` signing token. Unlike the plain token it binds the body
 * and a timestamp, so a captured delivery cannot be altered or replayed after `toleranceSeconds`.
 */
export function signatureVerifies(input: {
  secret: string;
  id: string | undefined;
  timestamp: string | undefined;
  signatures: string | undefined;
  body: Buffer;
  nowSeconds?: number;
  toleranceSeconds?: number;
}): boolean {
  if (!input.id || !input.timestamp || !input.signatures || !/^\d{1,12}$/.test(input.timestamp)) return false;
  const now = input.nowSeconds ?? Math.floor(Date.now() / 1000);
  if (Math.abs(now - Number(input.timestamp)) > (input.toleranceSeconds ?? 300)) return false;
  const key = Buffer.from(input.secret.replace(/^whsec_/, ''), 'base64');
  const expected = createHmac('sha256', key)
    .update(Buffer.concat([Buffer.from(`${input.id}.${input.timestamp}.`), input.body]))
    .digest();
  return input.signatures.split(' ').some((entry) => {
    const [version, value] = entry.split(',', 2);
    if (version !== 'v1' || !value) return false;
    const given = Buffer.from(value, 'base64');
    return given.length === expected.length && timingSafeEqual(given, expected);
  });
}
