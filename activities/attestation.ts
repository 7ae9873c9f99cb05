// Proof that an approval came through Slipway's authenticated HTTP API. Temporal never tells
// workflow code who sent a message, so the API signs each decision with a key only Slipway's
// servers and workers hold (SLIPWAY_APPROVAL_KEY); the workflow asks an activity to check it.
// The key never enters history: only the signature does, and it is bound to one workflow,
// environment, approver and decision kind.
import { createHmac, timingSafeEqual } from 'node:crypto';

export interface DecisionClaim {
  workflowId: string;
  kind: 'approve' | 'reject';
  environment: string;
  approver: string;
}

function approvalKey(env: NodeJS.ProcessEnv = process.env): string | undefined {
  return env.SLIPWAY_APPROVAL_KEY || undefined;
}

function digest(key: string, claim: DecisionClaim): Buffer {
  return createHmac('sha256', key)
    .update([claim.workflowId, claim.kind, claim.environment, claim.approver].join('\n'))
    .digest();
}

/** Used by the HTTP API after it has authenticated the approver. */
export function signDecision(claim: DecisionClaim, env: NodeJS.ProcessEnv = process.env): string {
  const key = approvalKey(env);
  if (!key) throw new Error('SLIPWAY_APPROVAL_KEY is not set: the approval API cannot attest decisions without it');
  return digest(key, claim).toString('base64url');
}

/** The activity the workflow calls; false when no key is configured or the signature does not match. */
export async function verifyDecisionAttestation(input: DecisionClaim & { attestation: string }): Promise<boolean> {
  const key = approvalKey();
  if (!key) return false;
  const expected = digest(key, input);
  const given = Buffer.from(input.attestation, 'base64url');
  return given.length === expected.length && timingSafeEqual(given, expected);
}
