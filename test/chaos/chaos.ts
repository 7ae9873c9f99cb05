// The chaos run: N pipelines on one real stack (Temporal, Docker builds, registry, the Marathon
// emulator) while the deploy worker and the build worker are SIGKILLed at random moments and
// restarted. Each pipeline has its own service (its own lanes), so its expected outcome is
// simply "succeeded": no pipeline can supersede another. Production is approved (validated
// Update) as soon as a pipeline waits for it. At the end the emulator's request log is the
// referee: a duplicate is more than one accepted deploying write per (pipeline image,
// environment); a lost approval is an accepted approval whose production never got the image.
// Used by `npm run chaos` (test/chaos/run.ts) and the short `test/e2e/chaos.test.ts`.
import type { ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import type { PipelineStatus } from '../../common/contract';
import { startStack, type Stack } from '../helpers/stack';
import {
  approveProduction,
  deploysPerEnvironment,
  finalStatus,
  productionWaits,
  queryStatus,
  runPipeline,
  sleep,
  stopStack,
} from './driver';

export type WorkerRole = 'deploy' | 'build';

export interface ChaosOptions {
  pipelines: number;
  seed: number;
  /** Pause between kills, drawn uniformly from [min, max] ms. */
  killEveryMs?: [number, number];
  /** How long a killed worker stays dead before its restart, [min, max] ms. */
  downMs?: [number, number];
  /** Stop the scheduled kills after this many (default: no limit while pipelines run); approval kills come on top. */
  maxKills?: number;
  /** Roles of the first kills in order (then random): e.g. ['build', 'deploy'] makes sure both die. */
  firstKills?: WorkerRole[];
  /** Chance (0-1) that the deploy worker is also killed 0-500 ms after an approval is sent (default 0.3). */
  killOnApproval?: number;
  /** Pipelines are started this far apart, [min, max] ms. */
  startEveryMs?: [number, number];
  /** The whole run gives up after this long; unfinished pipelines count as not completed. */
  timeoutMs?: number;
  marathonMode?: 'simulated' | 'containers';
  log?: (line: string) => void;
}

export interface KillRecord {
  role: WorkerRole;
  /** What chose the moment: the random schedule, or an approval just sent. */
  cause: 'schedule' | 'approval';
  atMs: number;
  downMs: number;
}

export interface PipelineOutcome {
  workflowId: string;
  service: string;
  state: PipelineStatus['state'] | 'unfinished';
  error?: string;
  approval: 'accepted' | 'refused' | 'never-asked';
  approvalNote?: string;
  deploys: Record<string, number>;
}

export interface ChaosReport {
  seed: number;
  pipelines: number;
  kills: KillRecord[];
  completed: number;
  failed: number;
  unfinished: number;
  duplicates: { workflowId: string; environment: string; puts: number }[];
  /** Environments of succeeded pipelines that never received a deploying write. */
  missing: { workflowId: string; environment: string }[];
  lostApprovals: { workflowId: string; production: string }[];
  outcomes: PipelineOutcome[];
  durationMs: number;
}

/** mulberry32: small, seeded, good enough to make a run repeatable in what it decides. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function alive(child: ChildProcess | undefined): child is ChildProcess {
  return !!child && child.exitCode === null && child.signalCode === null;
}

async function sigkill(child: ChildProcess): Promise<void> {
  if (!alive(child)) return;
  await new Promise<void>((resolve) => {
    child.once('exit', () => resolve());
    child.kill('SIGKILL');
  });
}

export async function runChaos(opts: ChaosOptions): Promise<ChaosReport> {
  const log = opts.log ?? ((line: string) => console.log(line));
  // Separate streams for start spacing and for kills, so one does not shift the other's draws.
  const random = seededRandom(opts.seed);
  const startRandom = seededRandom(opts.seed ^ 0x5bd1e995);
  const approvalRandom = seededRandom(opts.seed ^ 0x27d4eb2f);
  const between = ([min, max]: [number, number], r = random) => Math.round(min + r() * (max - min));
  const killEvery = opts.killEveryMs ?? [3_000, 12_000];
  const down = opts.downMs ?? [500, 5_000];
  const startEvery = opts.startEveryMs ?? [2_000, 8_000];
  const timeoutMs = opts.timeoutMs ?? 20 * 60_000;
  const began = Date.now();
  const elapsed = () => `${((Date.now() - began) / 1000).toFixed(1)}s`;

  const stack = await startStack({
    marathonMode: opts.marathonMode ?? 'simulated',
    example: 'hello-node',
    extraServices: opts.pipelines - 1,
    healthTimeout: '600s',
    emulator: { simulatedHealthyAfterMs: 3000 },
  });
  try {
    return await drive(stack);
  } finally {
    await stopStack(stack);
  }

  async function drive(stack: Stack): Promise<ChaosReport> {
    const workers: Record<WorkerRole, ChildProcess | undefined> = {
      deploy: stack.startWorker('deploy'),
      build: stack.startWorker('build'),
    };
    // One new commit for every service: each pipeline builds its own image of it (cached layers).
    const commit = stack.commit(`chaos seed ${opts.seed}`, (dir) =>
      writeFileSync(path.join(dir, 'chaos-run.txt'), `seed ${opts.seed} at ${new Date().toISOString()}\n`),
    );
    log(`[chaos] seed ${opts.seed}: ${opts.pipelines} pipelines of ${commit.slice(0, 12)}, services ${stack.service}…`);

    const deadline = began + timeoutMs;
    const finished = new Map<string, PipelineStatus | 'unfinished'>();
    const approvals = new Map<string, { result: PipelineOutcome['approval']; note?: string }>();
    const ids: string[] = [];
    const followers: Promise<void>[] = [];

    const kills: KillRecord[] = [];
    const restarting: Partial<Record<WorkerRole, Promise<void>>> = {};
    /** SIGKILLs the worker of `role` and restarts it after `downMs`; one kill per role at a time. */
    const killWorker = async (role: WorkerRole, cause: KillRecord['cause'], downMs: number) => {
      if (restarting[role]) return restarting[role];
      restarting[role] = (async () => {
        const victim = workers[role];
        if (victim) await sigkill(victim);
        kills.push({ role, cause, atMs: Date.now() - began, downMs });
        log(`[chaos] ${elapsed()} SIGKILL ${role} worker (pid ${victim?.pid}, ${cause}); restart in ${downMs} ms`);
        await sleep(downMs);
        workers[role] = stack.startWorker(role);
      })();
      try {
        await restarting[role];
      } finally {
        restarting[role] = undefined;
      }
    };
    const killOnApproval = opts.killOnApproval ?? 0.3;

    const follow = async (id: string) => {
      // Approve production when it waits, then wait for the end. Queries fail while the deploy
      // worker is dead: keep asking until the deadline.
      let approved = false;
      while (Date.now() < deadline) {
        const s = await queryStatus(stack.client, id, 5000);
        if (s && !approved && productionWaits(s)) {
          // Sometimes the deploy worker dies while the approval Update is on its way.
          const pending =
            approvalRandom() < killOnApproval
              ? sleep(between([0, 500], approvalRandom)).then(() =>
                  killWorker('deploy', 'approval', between(down, approvalRandom)),
                )
              : undefined;
          const answer = await approveProduction(stack.client, id, Math.max(0, deadline - Date.now()));
          await pending;
          approved = true;
          approvals.set(id, answer.accepted ? { result: 'accepted' } : { result: 'refused', note: answer.reason });
          log(
            `[chaos] ${elapsed()} ${id}: production approval ${answer.accepted ? `accepted (attempt ${answer.attempts})` : `refused: ${answer.reason}`}`,
          );
        }
        const d = await stack.client.workflow
          .getHandle(id)
          .describe()
          .catch(() => undefined);
        if (d && d.status.name !== 'RUNNING') {
          const status = await finalStatus(stack.client, id).catch(() => s);
          finished.set(id, status ?? 'unfinished');
          log(
            `[chaos] ${elapsed()} ${id}: ${status?.state ?? d.status.name}${status?.error ? ` (${status.error})` : ''}`,
          );
          return;
        }
        await sleep(500);
      }
      finished.set(id, 'unfinished');
    };

    const starting = (async () => {
      for (const service of stack.services) {
        const id = await runPipeline(stack.client, service, commit);
        ids.push(id);
        followers.push(follow(id));
        log(`[chaos] ${elapsed()} started ${id}`);
        await sleep(between(startEvery, startRandom));
      }
    })();

    const allDone = () => ids.length === opts.pipelines && finished.size === opts.pipelines;
    const killing = (async () => {
      let scheduled = 0;
      while (!allDone() && Date.now() < deadline && scheduled < (opts.maxKills ?? Infinity)) {
        const wait = between(killEvery);
        const until = Date.now() + wait;
        while (Date.now() < until && !allDone()) await sleep(200);
        if (allDone()) break;
        const role: WorkerRole = opts.firstKills?.[scheduled] ?? (random() < 0.5 ? 'deploy' : 'build');
        scheduled++;
        await killWorker(role, 'schedule', between(down));
      }
    })();

    await starting;
    await Promise.all(followers);
    await killing;

    const requests = stack.emulator.requests();
    const outcomes: PipelineOutcome[] = ids.map((id, i) => {
      const status = finished.get(id);
      const approval = approvals.get(id);
      const outcome: PipelineOutcome = {
        workflowId: id,
        service: stack.services[i] ?? '',
        state: status === undefined || status === 'unfinished' ? 'unfinished' : status.state,
        error: status && status !== 'unfinished' ? status.error : undefined,
        approval: approval?.result ?? 'never-asked',
        approvalNote: approval?.note,
        deploys: {},
      };
      if (status && status !== 'unfinished' && (status.image ?? status.build.digestRef))
        outcome.deploys = deploysPerEnvironment(requests, status);
      return outcome;
    });
    const report: ChaosReport = {
      seed: opts.seed,
      pipelines: opts.pipelines,
      kills,
      completed: outcomes.filter((o) => o.state === 'succeeded').length,
      failed: outcomes.filter((o) => o.state !== 'succeeded' && o.state !== 'unfinished').length,
      unfinished: outcomes.filter((o) => o.state === 'unfinished').length,
      duplicates: outcomes.flatMap((o) =>
        Object.entries(o.deploys)
          .filter(([, puts]) => puts > 1)
          .map(([environment, puts]) => ({ workflowId: o.workflowId, environment, puts })),
      ),
      missing: outcomes
        .filter((o) => o.state === 'succeeded')
        .flatMap((o) =>
          Object.entries(o.deploys)
            .filter(([, puts]) => puts === 0)
            .map(([environment]) => ({ workflowId: o.workflowId, environment })),
        ),
      lostApprovals: outcomes
        .filter((o) => o.approval === 'accepted' && (o.deploys.production ?? 0) === 0)
        .map((o) => ({ workflowId: o.workflowId, production: `${o.state}${o.error ? `: ${o.error}` : ''}` })),
      outcomes,
      durationMs: Date.now() - began,
    };
    return report;
  }
}

/** What is wrong with a run, one line each; empty when it proved what it should. */
export function chaosProblems(report: ChaosReport): string[] {
  const problems: string[] = [];
  if (report.completed !== report.pipelines)
    problems.push(`${report.pipelines - report.completed} of ${report.pipelines} pipelines did not complete`);
  if (report.duplicates.length > 0) problems.push(`${report.duplicates.length} duplicate deployment(s)`);
  if (report.lostApprovals.length > 0) problems.push(`${report.lostApprovals.length} lost approval(s)`);
  if (report.missing.length > 0) problems.push(`${report.missing.length} environment(s) never received the image`);
  return problems;
}

export function formatChaosReport(report: ChaosReport): string {
  const byRole = (role: WorkerRole) => report.kills.filter((k) => k.role === role).length;
  const lines = [
    `chaos run, seed ${report.seed}, ${(report.durationMs / 1000).toFixed(0)} s`,
    `  pipelines            ${report.pipelines}`,
    `  kills                ${report.kills.length} (deploy worker ${byRole('deploy')}, build worker ${byRole('build')}; ${report.kills.filter((k) => k.cause === 'approval').length} of them right after an approval was sent)`,
    `  completed            ${report.completed}`,
    `  failed               ${report.failed}`,
    `  unfinished           ${report.unfinished}`,
    `  duplicate deploys    ${report.duplicates.length}`,
    `  lost approvals       ${report.lostApprovals.length}`,
    `  missing deploys      ${report.missing.length}`,
  ];
  for (const o of report.outcomes.filter((x) => x.state !== 'succeeded'))
    lines.push(`  ${o.workflowId}: ${o.state}${o.error ? ` — ${o.error}` : ''}`);
  for (const d of report.duplicates) lines.push(`  DUPLICATE ${d.workflowId} ${d.environment}: ${d.puts} PUTs`);
  for (const l of report.lostApprovals) lines.push(`  LOST APPROVAL ${l.workflowId}: production ${l.production}`);
  for (const m of report.missing) lines.push(`  MISSING ${m.workflowId} ${m.environment}: no deploying PUT`);
  return lines.join('\n');
}
