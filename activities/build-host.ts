// Build-host affinity. Checkout, build and push must run against one Docker daemon, so a build
// worker first takes the job on the shared build queue and answers with its own host queue; the
// pipeline then sends the build steps there. The host ID is stable across worker restarts
// (SLIPWAY_BUILD_HOST_ID or the hostname), so a restarted worker picks up its host's retries.
import os from 'node:os';
import { buildHostQueue } from '../common/contract';

export function buildHostId(): string {
  return process.env.SLIPWAY_BUILD_HOST_ID ?? os.hostname();
}

export async function claimBuildHost(): Promise<{ hostId: string; taskQueue: string }> {
  const hostId = buildHostId();
  return { hostId, taskQueue: buildHostQueue(hostId) };
}
