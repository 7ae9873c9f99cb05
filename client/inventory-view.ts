// How the inventory reads to a person: the cells `slipway envs` prints and the board shows (one
// wording for both), and the terminal tables. Pure functions of an Inventory and the clock.
import type { Inventory, InventoryEntry, InventoryPipelineRef } from '../common/contract';
import { table } from './cli-support';
import { formatDuration } from './status-view';

export const shortSha = (commit: string | undefined) => (commit ? commit.slice(0, 12) : '');

/** "sha256:0123456789ab" — enough to tell digests apart at a glance; --json has the whole one. */
export const shortDigest = (digest: string | undefined) => (digest ? digest.slice(0, 19) : '');

/** "2026-12-01 03:10:00Z (5m00s ago)". */
export function sinceText(iso: string | undefined, now = Date.now()): string {
  if (!iso) return '';
  const at = iso.replace('T', ' ').replace(/\.\d+Z$/, 'Z');
  return `${at} (${formatDuration(now - Date.parse(iso))} ago)`;
}

/** Who approved the running version in: names (verified ones marked), or why nobody had to. */
export function approvedText(entry: InventoryEntry): string {
  const d = entry.deployed;
  if (!d) return '';
  if (d.approvedBy.length > 0)
    return d.approvedBy.map((a) => `${a.approver}${a.verified ? ' (verified)' : ''}`).join(', ');
  return d.gated ? '(no accepted approval recorded)' : 'no gate';
}

/** "2/2 (2 healthy)", or why Marathon could not say. */
export function instancesText(entry: InventoryEntry): string {
  const m = entry.marathon;
  if (m.error) return 'Marathon error';
  if (!m.found) return 'no app';
  return `${m.tasksRunning ?? 0}/${m.instances ?? 0} (${m.tasksHealthy ?? 0} healthy)`;
}

/** What the entry's state column says: deploying, waiting, drifted, a lane that could not be read. */
export function notesOf(entry: InventoryEntry, environmentWideError?: string): string[] {
  const notes: string[] = [];
  if (entry.inFlight) notes.push(`${entry.inFlight.kind} in flight: ${entry.inFlight.pipelineId}`);
  if (entry.waitingApproval.length > 0) notes.push(`waiting for approval: ${entry.waitingApproval.join(', ')}`);
  if (entry.drift?.drifted) notes.push(`DRIFT: ${entry.drift.details.join('; ')}`);
  if (entry.laneError) notes.push(`lane unreadable: ${entry.laneError}`);
  // When Marathon failed for the whole environment, that is said once, above its table.
  if (entry.marathon.error && !environmentWideError) notes.push(entry.marathon.error);
  return notes;
}

const resources = (cpus: number, mem: number) => `${cpus} cpus, ${mem} MiB`;

function pipelineLines(title: string, refs: InventoryPipelineRef[], now: number): string {
  if (refs.length === 0) return `${title}: none\n`;
  return (
    `${title}:\n` +
    table(
      ['PIPELINE', 'ENVIRONMENT', 'SINCE', 'ERROR'],
      refs.map((p) => [p.workflowId, p.environment, sinceText(p.closeTime ?? p.startTime, now), p.error]),
    )
  );
}

export function renderInventoryText(inventory: Inventory, now = Date.now()): string {
  const parts: string[] = [];
  for (const env of inventory.environments) {
    const t = env.totals;
    const summary = env.marathonError
      ? `Marathon unreadable: ${env.marathonError}`
      : `${t.apps} apps, ${t.tasksRunning}/${t.instances} instances running (${t.tasksHealthy} healthy), ${resources(t.cpus, t.mem)} in use`;
    parts.push(
      `${env.name}  ${env.marathonUrl}  ${summary}\n` +
        table(
          ['SERVICE', 'COMMIT', 'DIGEST', 'SINCE', 'APPROVED BY', 'INSTANCES', 'CPUS', 'MEM', 'NOTES'],
          env.entries.map((e) => [
            e.service,
            e.deployed ? shortSha(e.deployed.commit) : '(none)',
            shortDigest(e.deployed?.digest),
            sinceText(e.deployed?.since, now),
            approvedText(e),
            instancesText(e),
            e.marathon.found ? String(e.marathon.cpus) : '',
            e.marathon.found ? String(e.marathon.mem) : '',
            notesOf(e, env.marathonError).join('; '),
          ]),
        ),
    );
  }
  parts.push(pipelineLines('Waiting for approval', inventory.waitingApprovals, now));
  parts.push(pipelineLines('Recent failures', inventory.recentFailures, now));
  return parts.join('\n');
}
