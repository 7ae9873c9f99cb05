// driftCheck: one comparison of every Marathon app Slipway deployed with what the deploy config
// renders for the image running there (activities/drift-check.ts). Started by `slipway drift` (and
// `checkDrift` in client/drift.ts) for one answer now, and by the Temporal Schedule
// "slipway-drift" periodically, which sets `announce` so found drift reaches onDriftFound. A
// workflow rather than a client-side check, so it runs where the worker's config, Marathon
// credentials and secrets are; its result holds findings only, never a secret value.
import type { DriftCheckInput, DriftReport } from '../common/contract';
import { driftCheckStep } from './proxies';

export async function driftCheck(input: DriftCheckInput = {}): Promise<DriftReport> {
  return driftCheckStep.checkDrift(input);
}
