// The emulated cluster: Mesos agents with cpus, mem, disk, port ranges and attributes, and the
// offer matching Marathon does against them before it launches a task (mesosphere/mesos
// ResourceMatcher and Constraints.scala): resources and host ports must fit what the agent has
// left, and every constraint of the app must hold. When no agent fits, the task is not launched
// and the reason per agent is kept for GET /v2/queue, named as Marathon names them
// (NoOfferMatchReason; the first in `reasonFunnel` order counts for the summary).

export interface AgentSpec {
  /** Agent (slave) id as Marathon reports it in tasks[].slaveId. */
  id: string;
  hostname: string;
  cpus: number;
  mem: number;
  disk: number;
  /** Inclusive host port ranges the agent offers (Mesos default 31000-32000). */
  ports: [number, number][];
  /** Text attributes, e.g. {"rack": "r1"}: constraint fields besides "hostname". */
  attributes: Record<string, string>;
}

export interface AgentsOptions {
  count?: number;
  cpus?: number;
  mem?: number;
  disk?: number;
  ports?: [number, number][];
  /** Attributes per agent, by index. */
  attributes?: Record<string, string>[];
}

/**
 * Without options: three roomy agents (256 cpus, 1 TiB mem each, ports 1025-65535) so nothing
 * that fitted the emulator before stops fitting; give counts and sizes to model a real cluster.
 */
export function makeAgents(opts: AgentsOptions | AgentSpec[] = {}): AgentSpec[] {
  if (Array.isArray(opts)) return opts;
  return Array.from({ length: opts.count ?? 3 }, (_, i) => ({
    id: `emulator-agent-${i + 1}`,
    hostname: `agent-${i + 1}.emulator.invalid`,
    cpus: opts.cpus ?? 256,
    mem: opts.mem ?? 1_048_576,
    disk: opts.disk ?? 1_048_576,
    ports: opts.ports ?? [[1025, 65535]],
    attributes: opts.attributes?.[i] ?? {},
  }));
}

/** NoOfferMatchReason names, in Marathon's funnel order. */
export const reasonFunnel = [
  'UnfulfilledRole',
  'UnfulfilledConstraint',
  'NoCorrespondingReservationFound',
  'AgentMaintenance',
  'InsufficientCpus',
  'InsufficientMemory',
  'InsufficientDisk',
  'InsufficientGpus',
  'InsufficientPorts',
  'DeclinedScarceResources',
] as const;
export type NoMatchReason = (typeof reasonFunnel)[number];

/** What one task of an app asks of an agent. */
export interface Demand {
  cpus: number;
  mem: number;
  disk: number;
  /** One host port per port mapping / definition, in order: a number must be exactly that one, 0 is any. */
  hostPorts: number[];
  constraints: string[][];
}

/** A task already on an agent: what it uses, and for constraints whose app it belongs to. */
export interface Placed {
  agentId: string;
  appId: string;
  cpus: number;
  mem: number;
  disk: number;
  ports: number[];
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

export function demandOf(def: Record<string, unknown>, hostNetworking: boolean): Demand {
  const container = isObject(def.container) ? def.container : {};
  const list = (hostNetworking ? def.portDefinitions : container.portMappings) as Record<string, unknown>[] | undefined;
  const hostPorts = (Array.isArray(list) ? list : []).map((p) => {
    // Host networking: a port definition's number is a service port unless requirePorts.
    const fixed = hostNetworking ? (def.requirePorts === true ? p.port : 0) : p.hostPort;
    return typeof fixed === 'number' && fixed > 0 ? fixed : 0;
  });
  return {
    cpus: Number(def.cpus ?? 1),
    mem: Number(def.mem ?? 128),
    disk: Number(def.disk ?? 0),
    hostPorts,
    constraints: (Array.isArray(def.constraints) ? def.constraints : []).map((c) =>
      (Array.isArray(c) ? c : []).map(String),
    ),
  };
}

function valueOn(agent: AgentSpec, field: string): string | undefined {
  return field === 'hostname' ? agent.hostname : agent.attributes[field];
}

const fullMatch = (pattern: string, value: string) => {
  try {
    return new RegExp(`^(?:${pattern})$`).test(value);
  } catch {
    return false;
  }
};

/** Does one constraint hold for a task of the app on `agent`, given where the app's tasks run? */
function constraintHolds(constraint: string[], agent: AgentSpec, agents: AgentSpec[], appTasks: Placed[]): boolean {
  const [field = '', op = '', value] = constraint;
  const here = valueOn(agent, field);
  const valuesOfTasks = appTasks.map((t) => {
    const a = agents.find((x) => x.id === t.agentId);
    return a ? valueOn(a, field) : undefined;
  });
  const countHere = valuesOfTasks.filter((v) => v !== undefined && v === here).length;
  switch (op) {
    case 'UNIQUE':
      return here !== undefined && countHere === 0;
    case 'CLUSTER':
      if (here === undefined) return false;
      if (value) return here === value;
      return valuesOfTasks.every((v) => v === here);
    case 'IS':
      return here !== undefined && here === value;
    case 'LIKE':
      return here !== undefined && fullMatch(value ?? '', here);
    case 'UNLIKE':
      return here === undefined || !fullMatch(value ?? '', here);
    case 'MAX_PER':
      return here !== undefined && countHere < Number(value ?? 1);
    case 'GROUP_BY': {
      // Spread evenly over the values: a value may take a task while it has no more than the least used.
      if (here === undefined) return false;
      const counts = new Map<string, number>();
      for (const a of agents) {
        const v = valueOn(a, field);
        if (v !== undefined) counts.set(v, 0);
      }
      for (const v of valuesOfTasks) if (v !== undefined) counts.set(v, (counts.get(v) ?? 0) + 1);
      const least = Math.min(...counts.values());
      return (counts.get(here) ?? 0) <= least;
    }
    default:
      return false;
  }
}

function freePortsOn(agent: AgentSpec, used: Set<number>, count: number): number[] | undefined {
  const out: number[] = [];
  for (const [from, to] of agent.ports)
    for (let p = from; p <= to && out.length < count; p++) if (!used.has(p)) out.push(p);
  return out.length === count ? out : undefined;
}

export type Match =
  { agent: AgentSpec; ports: number[] } | { reasons: { agent: AgentSpec; reasons: NoMatchReason[] }[] };

/**
 * Finds an agent for one task of `appId`: every agent is checked (Marathon's "offers"); among
 * those that fit, the one running the fewest tasks of this app (then the most free memory).
 */
export function matchAgent(agents: AgentSpec[], placed: Placed[], appId: string, demand: Demand): Match {
  const appTasks = placed.filter((t) => t.appId === appId);
  const fits: { agent: AgentSpec; ports: number[]; mine: number; freeMem: number }[] = [];
  const reasons: { agent: AgentSpec; reasons: NoMatchReason[] }[] = [];
  for (const agent of agents) {
    const here = placed.filter((t) => t.agentId === agent.id);
    const used = new Set(here.flatMap((t) => t.ports));
    const sum = (k: 'cpus' | 'mem' | 'disk') => here.reduce((n, t) => n + t[k], 0);
    const why: NoMatchReason[] = [];
    if (!demand.constraints.every((c) => constraintHolds(c, agent, agents, appTasks)))
      why.push('UnfulfilledConstraint');
    if (agent.cpus - sum('cpus') < demand.cpus - 1e-9) why.push('InsufficientCpus');
    if (agent.mem - sum('mem') < demand.mem - 1e-9) why.push('InsufficientMemory');
    if (agent.disk - sum('disk') < demand.disk - 1e-9) why.push('InsufficientDisk');
    const inRange = (p: number) => agent.ports.some(([from, to]) => p >= from && p <= to);
    const fixed = demand.hostPorts.filter((p) => p > 0);
    const fixedOk = fixed.every((p) => inRange(p) && !used.has(p));
    const dynamic = fixedOk
      ? freePortsOn(agent, new Set([...used, ...fixed]), demand.hostPorts.length - fixed.length)
      : undefined;
    if (!fixedOk || !dynamic) why.push('InsufficientPorts');
    if (why.length > 0) reasons.push({ agent, reasons: why });
    else
      fits.push({
        agent,
        ports: demand.hostPorts.map((p) => (p > 0 ? p : dynamic!.shift()!)),
        mine: appTasks.filter((t) => t.agentId === agent.id).length,
        freeMem: agent.mem - sum('mem'),
      });
  }
  if (fits.length === 0) return { reasons };
  fits.sort((a, b) => a.mine - b.mine || b.freeMem - a.freeMem);
  return { agent: fits[0]!.agent, ports: fits[0]!.ports };
}
