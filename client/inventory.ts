// The inventory: for every service and environment of the deploy config, what the environment's
// lane says it deployed (commit, digest, since when, who approved it: read from the pipeline that
// deployed it) and what Marathon runs now (instances, running and healthy tasks, resources), with
// totals per environment. Read live from the lanes (their `lane` query) and from Marathon on every
// call, never from a stored copy, so it cannot disagree with either by being stale. Shared by
// `slipway envs`, GET /environments and the board.
//
// Marathon is asked at the URL the deploy config names for each environment, with that
// environment's credentials from this process's environment (MARATHON_<ENV>_…, else MARATHON_…):
// the same rule as the deploy workers, so credentials only ever go to the configured URL. One
// Marathon that does not answer marks its own environment's entries; the others are still listed.
import { WorkflowNotFoundError, type Client } from '@temporalio/client';
import { marathonAppId, type DeployConfig, type EnvironmentConfig } from '../common/config';
import {
  laneQuery,
  laneWorkflowId,
  type DriftReport,
  type EnvironmentInventory,
  type Inventory,
  type InventoryEntry,
  type InventoryPipelineRef,
  type LaneState,
  type PipelineStatus,
} from '../common/contract';
import { viewApp } from '../activities/marathon-app';
import { MarathonClient, marathonCredentialsFromEnv } from '../activities/marathon-client';
import { lastScheduledDrift } from './drift';
import { listPipelines, pipelineStatus, type PipelineSummary } from './pipelines';

export interface InventoryOptions {
  /** Where Marathon credentials come from (default: this process's environment). */
  env?: NodeJS.ProcessEnv;
  /** How long one Marathon request may take (default 5 s). */
  marathonTimeoutMs?: number;
  /** How long a lane or pipeline query may wait for a worker (default 5 s). */
  queryTimeoutMs?: number;
  /** How many failed pipelines to list (default 10). */
  failuresLimit?: number;
  /** Only these services (default: every service of the config). */
  services?: string[];
  /** Keeps what cannot change any more between calls (a long-running server passes one). */
  cache?: InventoryCache;
}

/**
 * What a finished decision or a finished pipeline said never changes: who approved a pipeline into
 * an environment it already deployed to, why a closed pipeline failed. A server that is asked
 * every few seconds keeps those answers instead of asking Temporal again. Bounded: oldest out.
 */
export class InventoryCache {
  private readonly entries = new Map<string, unknown>();
  constructor(private readonly limit = 5000) {}

  async get<T>(key: string, load: () => Promise<T>): Promise<T> {
    if (this.entries.has(key)) return this.entries.get(key) as T;
    const value = await load();
    this.entries.set(key, value);
    if (this.entries.size > this.limit) this.entries.delete(this.entries.keys().next().value as string);
    return value;
  }
}

/** Runs `fn` over `items`, at most `limit` at once, keeping the order of `items`. */
async function mapLimit<T, R>(items: T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const out = new Array<R>(items.length);
  let next = 0;
  const runners = Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i] as T);
    }
  });
  await Promise.all(runners);
  return out;
}

const messageOf = (err: unknown) => (err as Error)?.message ?? String(err);

function deadlineMessage(err: unknown, what: string, timeoutMs: number): string {
  return /deadline|timed? ?out/i.test(messageOf(err))
    ? `no worker answered the ${what} within ${timeoutMs / 1000} s (is a deploy worker running?)`
    : messageOf(err);
}

/** The lane's state, or undefined when the lane was never started. */
async function readLane(client: Client, laneId: string, timeoutMs: number): Promise<LaneState | undefined> {
  try {
    return await client.withDeadline(Date.now() + timeoutMs, () => client.workflow.getHandle(laneId).query(laneQuery));
  } catch (err) {
    if (err instanceof WorkflowNotFoundError) return undefined;
    throw new Error(`lane ${laneId}: ${deadlineMessage(err, 'lane query', timeoutMs)}`);
  }
}

async function statusOf(client: Client, workflowId: string, timeoutMs: number): Promise<PipelineStatus> {
  try {
    return await client.withDeadline(Date.now() + timeoutMs, () => pipelineStatus(client, workflowId));
  } catch (err) {
    throw new Error(`${workflowId}: ${deadlineMessage(err, 'status query', timeoutMs)}`);
  }
}

type Deployed = NonNullable<InventoryEntry['deployed']>;

/** Who approved the pipeline into the environment: final once the lane runs it there, so cached. */
async function approvalOf(
  client: Client,
  pipelineId: string,
  environment: string,
  opts: Required<Pick<InventoryOptions, 'queryTimeoutMs' | 'cache'>>,
): Promise<Pick<Deployed, 'approvedBy' | 'gated' | 'author'>> {
  return await opts.cache.get(`approval ${pipelineId} ${environment}`, async () => {
    const status = await statusOf(client, pipelineId, opts.queryTimeoutMs);
    const author = status.author?.name ?? status.author?.username;
    return {
      gated: Boolean(status.environments.find((e) => e.name === environment)?.approval),
      approvedBy: status.decisions
        .filter((d) => d.kind === 'approve' && d.accepted && d.environment === environment)
        .map((d) => ({ approver: d.approver, at: d.at, verified: d.verified, channel: d.channel })),
      ...(author ? { author } : {}),
    };
  });
}

/** What Marathon runs for the app now (GET /v2/apps/<id>). */
async function readMarathon(marathon: MarathonClient, appId: string): Promise<InventoryEntry['marathon']> {
  const raw = await marathon.getApp(appId);
  if (!raw) return { appId, found: false };
  const view = viewApp(raw);
  const num = (v: unknown) => (typeof v === 'number' && Number.isFinite(v) ? v : 0);
  return {
    appId,
    found: true,
    image: view.image,
    version: view.version,
    instances: view.instances,
    tasksRunning: view.tasksRunning,
    tasksHealthy: view.tasksHealthy,
    cpus: num(raw.cpus),
    mem: num(raw.mem),
  };
}

/** A Marathon client for one environment: its configured URL, its own credentials. */
function marathonFor(envConfig: EnvironmentConfig, env: NodeJS.ProcessEnv, timeoutMs: number): MarathonClient {
  const { credentials, hint } = marathonCredentialsFromEnv(envConfig.name, env);
  return new MarathonClient({
    baseUrl: envConfig.marathon,
    environment: envConfig.name,
    credentials,
    credentialHint: hint,
    timeoutMs,
  });
}

async function collectEntry(
  client: Client,
  service: string,
  envConfig: EnvironmentConfig,
  marathon: MarathonClient | Error,
  opts: Required<Pick<InventoryOptions, 'queryTimeoutMs' | 'cache'>>,
): Promise<InventoryEntry> {
  const laneId = laneWorkflowId(service, envConfig.name);
  const appId = marathonAppId(envConfig, service);
  const entry: InventoryEntry = {
    service,
    environment: envConfig.name,
    laneId,
    waitingApproval: [],
    marathon: { appId, found: false },
  };
  const fromMarathon =
    marathon instanceof Error
      ? Promise.resolve({ appId, found: false, error: marathon.message })
      : readMarathon(marathon, appId).catch((err: unknown) => ({ appId, found: false, error: messageOf(err) }));
  try {
    const lane = await readLane(client, laneId, opts.queryTimeoutMs);
    if (lane?.inFlight) entry.inFlight = lane.inFlight;
    entry.waitingApproval = (lane?.waitingApproval ?? []).map((w) => w.pipelineId);
    const current = lane?.current;
    if (current) {
      entry.deployed = {
        pipelineId: current.pipelineId,
        commit: current.commit,
        image: current.image,
        digest: current.image.split('@')[1] ?? '',
        version: current.version,
        since: current.since,
        approvedBy: [],
        gated: false,
      };
      Object.assign(entry.deployed, await approvalOf(client, current.pipelineId, envConfig.name, opts));
    }
  } catch (err) {
    entry.laneError = messageOf(err);
  }
  entry.marathon = await fromMarathon;
  return entry;
}

function totalsOf(entries: InventoryEntry[]): EnvironmentInventory['totals'] {
  const totals = { apps: 0, instances: 0, tasksRunning: 0, tasksHealthy: 0, cpus: 0, mem: 0 };
  for (const { marathon: m } of entries) {
    if (!m.found) continue;
    const running = m.tasksRunning ?? 0;
    totals.apps += 1;
    totals.instances += m.instances ?? 0;
    totals.tasksRunning += running;
    totals.tasksHealthy += m.tasksHealthy ?? 0;
    totals.cpus += running * (m.cpus ?? 0);
    totals.mem += running * (m.mem ?? 0);
  }
  // Sums of fractions like 0.1 drift in binary floating point: keep what a person would write.
  totals.cpus = Math.round(totals.cpus * 1000) / 1000;
  return totals;
}

async function collectEnvironment(
  client: Client,
  envConfig: EnvironmentConfig,
  services: string[],
  opts: Required<Omit<InventoryOptions, 'services' | 'failuresLimit'>>,
): Promise<EnvironmentInventory> {
  let marathon: MarathonClient | Error;
  try {
    marathon = marathonFor(envConfig, opts.env, opts.marathonTimeoutMs);
  } catch (err) {
    marathon = new Error(messageOf(err));
  }
  const entries = await mapLimit(services, 8, (service) => collectEntry(client, service, envConfig, marathon, opts));
  const errors = entries.map((e) => e.marathon.error);
  const marathonError =
    marathon instanceof Error
      ? marathon.message
      : errors.length > 0 && errors.every(Boolean)
        ? (errors[0] as string)
        : undefined;
  return {
    name: envConfig.name,
    marathonUrl: envConfig.marathon,
    entries,
    totals: totalsOf(entries),
    ...(marathonError ? { marathonError } : {}),
  };
}

function pipelineRef(p: PipelineSummary): InventoryPipelineRef {
  return {
    workflowId: p.workflowId,
    ...(p.service ? { service: p.service } : {}),
    ...(p.commit ? { commit: p.commit } : {}),
    ...(p.environment ? { environment: p.environment } : {}),
    startTime: p.startTime,
    ...(p.closeTime ? { closeTime: p.closeTime } : {}),
  };
}

/** Pipelines of the listed services in `state`, newest first (visibility lists the whole namespace). */
async function pipelinesIn(client: Client, state: string, services: string[], limit: number) {
  const all = await listPipelines(client, {
    ...(services.length === 1 ? { service: services[0] } : {}),
    state,
    limit: 500,
  });
  return all.filter((p) => services.includes(p.service ?? '')).slice(0, limit);
}

/** The latest failed pipelines with why they failed (a closed pipeline's reason never changes). */
async function recentFailures(
  client: Client,
  services: string[],
  limit: number,
  opts: Required<Pick<InventoryOptions, 'queryTimeoutMs' | 'cache'>>,
): Promise<InventoryPipelineRef[]> {
  const failed = await pipelinesIn(client, 'failed', services, limit);
  return await mapLimit(failed, 4, async (p) => {
    const ref = pipelineRef(p);
    const load = async () => (await statusOf(client, p.workflowId, opts.queryTimeoutMs)).error;
    const error = await (p.closeTime ? opts.cache.get(`failure ${p.workflowId}`, load) : load()).catch(() => undefined);
    return error ? { ...ref, error } : ref;
  });
}

/** Fills each entry's `drift` from a drift report (entries it did not check stay unmarked). */
export function markDrift(environments: EnvironmentInventory[], report: DriftReport): void {
  const found = new Map(report.environments.map((d) => [`${d.service} ${d.environment}`, d]));
  for (const env of environments) {
    for (const entry of env.entries) {
      const d = found.get(`${entry.service} ${env.name}`);
      if (!d || (d.state !== 'drifted' && d.state !== 'missing' && d.state !== 'in-sync')) continue;
      const details = d.state === 'missing' ? [d.reason ?? 'Marathon lost the app'] : d.fields.map((f) => f.summary);
      entry.drift = { drifted: d.state !== 'in-sync', details, checkedAt: report.checkedAt };
    }
  }
}

export async function collectInventory(
  client: Client,
  config: DeployConfig,
  options: InventoryOptions = {},
): Promise<Inventory> {
  const opts = {
    env: options.env ?? process.env,
    marathonTimeoutMs: options.marathonTimeoutMs ?? 5000,
    queryTimeoutMs: options.queryTimeoutMs ?? 5000,
    cache: options.cache ?? new InventoryCache(),
  };
  const known = [...config.services.keys()].sort();
  for (const name of options.services ?? []) {
    if (!config.services.has(name))
      throw new Error(`unknown service "${name}": expected one of ${known.join(', ') || '(none configured)'}`);
  }
  const services = options.services ?? known;
  const [environments, waiting, failures, drift] = await Promise.all([
    Promise.all(config.environments.map((e) => collectEnvironment(client, e, services, opts))),
    pipelinesIn(client, 'waiting-approval', services, 100),
    recentFailures(client, services, options.failuresLimit ?? 10, opts),
    // What the drift Schedule's last run found; drift is compared on a deploy worker, not here.
    lastScheduledDrift(client).catch(() => undefined),
  ]);
  if (drift) markDrift(environments, drift);
  return {
    generatedAt: new Date().toISOString(),
    environments,
    waitingApprovals: waiting.map(pipelineRef),
    recentFailures: failures,
  };
}
