// Lane: what an environment lane knows and decides, as plain deterministic code — the queue of
// deploy requests (one at a time, newest wins, never older than what runs), the answers already
// given (so a re-sent request is answered again, not deployed twice), what runs now and ran
// before (the rollback target), and which pipelines wait for approval into this environment.
// No Temporal calls and no clock of its own: unit-tested without a server.
import type {
  DeliveryEvent,
  DeployOutcome,
  DeployRequest,
  LaneInput,
  LaneState,
  LiveApp,
  RollbackRequest,
} from '../../common/contract';

const historyLimit = 20;
const answeredLimit = 50;

type QueueEntry = LaneState['queue'][number];

/** What to do with a deploy request: answer it (again, or with a refusal), ignore it, or queue it. */
export type Admission = { answer: DeployOutcome } | { duplicate: true } | { queue: true };

/** What a rollback request resolves to: where to go, or why there is nowhere to go. */
export type RollbackPlan = { error: string } | { target: NonNullable<LaneState['target']>; toVersion: string };

export class Lane {
  readonly state: LaneState;
  /** Recent outcomes by pipeline, carried across continue-as-new. */
  readonly answered: Record<string, DeployOutcome>;
  private readonly requests = new Map<string, DeployRequest>();
  private readonly rollbacks: RollbackRequest[] = [];

  constructor(
    input: LaneInput,
    private readonly clock: () => Date,
  ) {
    this.state = input.state ?? {
      service: input.service,
      environment: input.environment,
      history: [],
      queue: [],
      waitingApproval: [],
    };
    this.answered = input.answered ?? {};
  }

  /** The state a continued lane starts from. */
  carryOver(input: LaneInput): LaneInput {
    return { service: input.service, environment: input.environment, state: this.state, answered: this.answered };
  }

  remember(pipelineId: string, outcome: DeployOutcome): void {
    this.answered[pipelineId] = outcome;
    const keys = Object.keys(this.answered);
    if (keys.length > answeredLimit) delete this.answered[keys[0] as string];
  }

  // --- deploy requests --------------------------------------------------------------------------

  /** A request seen before: answered again, or (queued, in flight) ignored. */
  recall(req: { pipelineId: string }): Exclude<Admission, { queue: true }> | undefined {
    const previous = this.answered[req.pipelineId];
    if (previous) return { answer: previous };
    if (this.requests.has(req.pipelineId) || this.state.inFlight?.pipelineId === req.pipelineId)
      return { duplicate: true };
    return undefined;
  }

  admit(req: DeployRequest): Admission {
    const recalled = this.recall(req);
    if (recalled) return recalled;
    const current = this.state.current;
    if (current && req.order < current.order) {
      const reason = `${current.pipelineId} (commit ${current.commit.slice(0, 12)}) is newer and already runs in ${this.state.environment}`;
      return { answer: { kind: 'refused', reason, newerPipelineId: current.pipelineId } };
    }
    return { queue: true };
  }

  /** Queued requests a request of `order` supersedes: deploying them first would be wasted work. */
  olderQueued(order: number): QueueEntry[] {
    return this.state.queue.filter((q) => q.order < order);
  }

  /** Takes a request out of the queue (superseded or withdrawn). */
  dropQueued(pipelineId: string): void {
    this.state.queue = this.state.queue.filter((q) => q.pipelineId !== pipelineId);
    this.requests.delete(pipelineId);
  }

  enqueue(req: DeployRequest): void {
    this.requests.set(req.pipelineId, req);
    this.state.queue.push({ pipelineId: req.pipelineId, order: req.order, commit: req.commit });
    this.state.queue.sort((a, b) => a.order - b.order);
  }

  /** A message the lane could not verify: ignored, and kept (the latest ten) for the lane's query. */
  ignore(pipelineId: string, message: string, reason: string): void {
    const ignored = [...(this.state.ignored ?? []), { pipelineId, message, reason, at: this.now() }];
    this.state.ignored = ignored.slice(-10);
  }

  isInFlight(pipelineId: string): boolean {
    return this.state.inFlight?.pipelineId === pipelineId;
  }

  /** The answer a cancelled pipeline gets when its deploy never started: what it had, else "cancelled". */
  withdrawnAnswer(pipelineId: string): DeployOutcome {
    return this.answered[pipelineId] ?? { kind: 'cancelled', rolledBackTo: null };
  }

  // --- pipelines waiting for approval into this environment --------------------------------------

  /**
   * A pipeline starts (or stops) waiting for approval here. Returns the newer pipeline that
   * supersedes it at once, or the older waiters it supersedes.
   */
  noteWaiting(w: { pipelineId: string; order: number; done?: boolean }): {
    supersededBy?: string;
    supersedes: string[];
  } {
    this.forgetWaiter(w.pipelineId);
    if (w.done) return { supersedes: [] };
    const current = this.state.current;
    const newer =
      this.state.waitingApproval.find((x) => x.order > w.order)?.pipelineId ??
      (current && w.order < current.order ? current.pipelineId : undefined);
    if (newer) return { supersededBy: newer, supersedes: [] };
    const supersedes = this.dropWaitersOlderThan(w.order, w.pipelineId);
    this.state.waitingApproval.push({ pipelineId: w.pipelineId, order: w.order });
    return { supersedes };
  }

  forgetWaiter(pipelineId: string): void {
    this.state.waitingApproval = this.state.waitingApproval.filter((x) => x.pipelineId !== pipelineId);
  }

  /** Removes and returns the waiters older than `order` (other than `by` itself). */
  dropWaitersOlderThan(order: number, by: string): string[] {
    const older = this.state.waitingApproval.filter((x) => x.order < order && x.pipelineId !== by);
    this.state.waitingApproval = this.state.waitingApproval.filter((x) => !older.includes(x));
    return older.map((x) => x.pipelineId);
  }

  // --- the work loop -------------------------------------------------------------------------------

  requestRollback(req: RollbackRequest): void {
    if (!this.rollbacks.some((r) => r.requestId === req.requestId)) this.rollbacks.push(req);
  }

  hasWork(): boolean {
    return this.state.queue.length > 0 || this.rollbacks.length > 0;
  }

  nextRollback(): RollbackRequest | undefined {
    return this.rollbacks.shift();
  }

  /** The next queued deploy; null when the queue's head has no request behind it (already answered). */
  nextDeploy(): DeployRequest | null | undefined {
    const next = this.state.queue.shift();
    if (!next) return undefined;
    const req = this.requests.get(next.pipelineId);
    this.requests.delete(next.pipelineId);
    return req ?? null;
  }

  startDeploy(req: DeployRequest): void {
    this.state.inFlight = { pipelineId: req.pipelineId, kind: 'deploy', since: this.now() };
    this.state.target = {
      marathonUrl: req.marathonUrl,
      appId: String(req.app.id),
      healthTimeoutSeconds: req.healthTimeoutSeconds,
      ...(req.imageTag ? { imageTag: req.imageTag } : {}),
    };
  }

  /** The step a blue/green or canary deploy is in (undefined: none runs). */
  noteStrategyStep(step: string | undefined): void {
    if (step) this.state.strategyStep = step;
    else delete this.state.strategyStep;
  }

  startRollback(req: RollbackRequest): void {
    this.state.inFlight = { pipelineId: req.requestId, kind: 'rollback', since: this.now() };
  }

  finishInFlight(): void {
    this.state.inFlight = undefined;
  }

  /** A deploy became healthy: it runs now (`live`: in that app); returns the approval waiters it supersedes. */
  deployed(req: DeployRequest, version: string, live?: LiveApp): string[] {
    this.replaceCurrent('replaced', {
      pipelineId: req.pipelineId,
      order: req.order,
      commit: req.commit,
      image: req.image,
      version,
      since: this.now(),
      ...(live ? { live } : {}),
    });
    return this.dropWaitersOlderThan(req.order, req.pipelineId);
  }

  /** Where a rollback goes: `configured` is the worker's word on where the app lives, else the last deploy's. */
  rollbackPlan(req: RollbackRequest, configured?: LaneState['target']): RollbackPlan {
    const { service, environment, history } = this.state;
    const target = this.state.target && (configured ?? this.state.target);
    if (!target)
      return { error: `${service} has never been deployed to ${environment} by Slipway: nothing to roll back` };
    const live = this.state.current?.live;
    if (live?.colour && !req.toVersion)
      return {
        error: `${service} in ${environment} is blue/green: the colour that ran before was deleted after the switch; deliver a commit that reverts the change (it becomes the next colour), or name a version of ${live.appId}`,
      };
    const toVersion = req.toVersion ?? history[0]?.version;
    if (!toVersion) return { error: `no earlier version of ${service} in ${environment} is known to roll back to` };
    // Blue/green and canary: the app that serves now, not the configured id.
    return { target: live ? { ...target, appId: live.appId } : target, toVersion };
  }

  /** A rollback to `toVersion` finished as Marathon `version`; returns the entry it restored, if known. */
  rolledBack(req: RollbackRequest, toVersion: string, version: string): LaneState['history'][number] | undefined {
    const restored = this.state.history.find((h) => h.version === toVersion);
    this.replaceCurrent(`rolled back by ${req.requestedBy}`, {
      pipelineId: req.requestId,
      order: this.state.current?.order ?? 0, // keeps refusing pipelines older than what was last promoted
      commit: restored?.commit ?? 'unknown',
      image: restored?.image ?? 'unknown',
      version,
      since: this.now(),
    });
    return restored;
  }

  private replaceCurrent(outcome: string, next: NonNullable<LaneState['current']>): void {
    const { current } = this.state;
    if (current) this.state.history.unshift({ ...current, outcome });
    this.state.history = this.state.history.slice(0, historyLimit);
    this.state.current = next;
  }

  /**
   * The delivery event of an operator's rollback, once carried out (or failed). Its id is the
   * request's, so recording it again changes nothing.
   */
  rollbackEvent(req: RollbackRequest, outcome: DeployOutcome): DeliveryEvent {
    const { service, environment, current } = this.state;
    const done = outcome.kind === 'healthy';
    const returnedTo = done && outcome.previousVersion ? { rolledBackTo: outcome.previousVersion } : {};
    const known = (value: string | undefined) => (value && value !== 'unknown' ? value : undefined);
    const commit = done ? known(current?.commit) : undefined;
    const image = done ? known(current?.image) : undefined;
    return {
      id: `${req.requestId}/${done ? 'rolled-back' : 'failed'}`,
      kind: done ? 'rolled-back' : 'failed',
      service,
      environment,
      ...(commit ? { commit } : {}),
      ...(image ? { image } : {}),
      pipelineId: req.requestId,
      actor: req.requestedBy,
      reason: 'error' in outcome ? `rollback failed: ${outcome.error}` : req.reason,
      ...returnedTo,
      at: this.now(),
    };
  }

  private now(): string {
    return this.clock().toISOString();
  }
}
