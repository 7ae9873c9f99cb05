// Proof that a decision came through Slipway's authenticated HTTP API. Temporal never tells
// workflow code who sent a message, so the API signs each decision with a key only Slipway's
// servers and workers hold (SLIPWAY_APPROVAL_KEY); the workflow asks an activity to check it.
// The key never enters history: only the signature does. A signature binds the workflow ID, the
// run ID, the decision (kind, environment, approver) and an expiry, so one copied out of a history
// into a rerun of the same pipeline, or replayed later, is refused.
import { createHmac, timingSafeEqual } from 'node:crypto';

export interface DecisionClaim {
  workflowId: string;
  runId: string;
  kind: 'approve' | 'reject' | 'override-freeze';
  environment: string;
  approver: string;
}

/** How long a signed decision stays valid: it is delivered at once, so minutes are plenty. */
export const attestationTtlSeconds = 600;

const scheme = 'v2';

function approvalKey(env: NodeJS.ProcessEnv = process.env): string | undefined {
  return env.SLIPWAY_APPROVAL_KEY || undefined;
}

function digest(key: string, claim: DecisionClaim, expiresAt: number): Buffer {
  const fields = [scheme, claim.workflowId, claim.runId, claim.kind, claim.environment, claim.approver, expiresAt];
  return createHmac('sha256', key).update(fields.join('\n')).digest();
}

/** Used by the HTTP API after it has authenticated the approver: `v2.<expiry>.<signature>`. */
export function signDecision(
  claim: DecisionClaim,
  env: NodeJS.ProcessEnv = process.env,
  nowMs: number = Date.now(),
): string {
  const key = approvalKey(env);
  if (!key) throw new Error('SLIPWAY_APPROVAL_KEY is not set: the approval API cannot attest decisions without it');
  const expiresAt = Math.floor(nowMs / 1000) + attestationTtlSeconds;
  return `${scheme}.${expiresAt}.${digest(key, claim, expiresAt).toString('base64url')}`;
}

/**
 * The activity the workflow calls; false when no key is configured, the signature is of another
 * scheme, run or decision, or it has expired.
 */
export async function verifyDecisionAttestation(input: DecisionClaim & { attestation: string }): Promise<boolean> {
  const key = approvalKey();
  const match = /^v2\.(\d{1,12})\.([\w-]+)$/.exec(input.attestation);
  if (!key || !match || input.runId === undefined) return false;
  const expiresAt = Number(match[1]);
  if (expiresAt * 1000 < Date.now()) return false;
  const expected = digest(key, input, expiresAt);
  const given = Buffer.from(match[2] as string, 'base64url');
  return given.length === expected.length && timingSafeEqual(given, expected);
}
