// Freeze windows in a pipeline's status, as plain deterministic code (like PipelineRun, which holds
// one FreezeBook): which environment a freeze holds and until when, and who may let the pipeline
// through — an approver of the frozen environment by the same rules as its approval gate (listed,
// verified where the environment demands it, not an author of the change), with a reason, while
// that environment is frozen. Every override is recorded, refused ones with why.
import type {
  DecisionChannel,
  EnvironmentStatus,
  FreezeCheck,
  FreezeOverrideRecord,
  FreezeOverrideRequest,
  PipelineStatus,
} from '../../common/contract';
import { approverRefusal, namedEnvironment, type Authorship } from './approval-rules';

export function freezeOverrideRefusal(
  request: FreezeOverrideRequest,
  environments: EnvironmentStatus[],
  authorship: Authorship,
): string | undefined {
  const named = namedEnvironment(request, environments);
  if (typeof named === 'string') return named;
  const env = named;
  if (env.state !== 'frozen') {
    const frozen = environments.find((e) => e.state === 'frozen');
    return `${env.name} is not frozen (it is ${env.state})` + (frozen ? `; ${frozen.name} is` : '');
  }
  if (!env.approval) {
    return (
      `${env.name} has no approvers (environments[].approval in slipway.yaml), so nobody may override its freeze; ` +
      `it goes on when the freeze ends (${env.freeze?.untilLocal ?? 'see the status'})`
    );
  }
  const refusal = approverRefusal('override-freeze', request, env, authorship);
  if (refusal) return refusal;
  if (typeof request.reason !== 'string' || !request.reason.trim()) {
    return `expected "reason": why ${env.name}'s freeze (${env.freeze?.reasons.join(', ') ?? 'freeze window'}) may be broken for this pipeline; it is kept in the pipeline's record`;
  }
  return undefined;
}

export class FreezeBook {
  /** Environments an approver let this pipeline through a freeze of: for the rest of the run. */
  private readonly overridden = new Set<string>();

  constructor(
    private readonly status: PipelineStatus,
    private readonly now: () => string,
    private readonly authorship: () => Authorship,
  ) {}

  private environment(name: string): EnvironmentStatus {
    const env = this.status.environments.find((e) => e.name === name);
    if (!env) throw new Error(`environment "${name}" is not in this pipeline's plan`);
    return env;
  }

  /** A freeze window holds `name` (the worker's check says so), until `check.until`. */
  freeze(name: string, check: Extract<FreezeCheck, { frozen: true }>): void {
    const env = this.environment(name);
    const since = env.state === 'frozen' && env.freeze ? env.freeze.since : this.now();
    const { until, reasons, timezone, untilLocal } = check;
    env.freeze = { since, until, reasons, timezone, untilLocal };
    env.state = 'frozen';
    this.status.state = 'frozen';
  }

  /** The freeze is over (the window ended or was overridden): `name` goes on. */
  thaw(name: string): void {
    this.environment(name).state = 'pending';
    this.status.state = 'deploying';
  }

  overriddenFor(name: string): boolean {
    return this.overridden.has(name);
  }

  /** Why an override cannot count now; undefined when it can. */
  refusal(request: FreezeOverrideRequest): string | undefined {
    return freezeOverrideRefusal(request, this.status.environments, this.authorship());
  }

  /** An override as received: refused, or waiting for its attestation check when it carries one. */
  receive(request: FreezeOverrideRequest, channel: DecisionChannel): FreezeOverrideRecord {
    const refusal = this.refusal(request);
    return {
      environment: String(request?.environment ?? ''),
      approver: String(request?.approver ?? ''),
      reason: String(request?.reason ?? ''),
      at: this.now(),
      channel: request?.attestation ? 'api' : channel,
      verified: false,
      accepted: !refusal,
      refusal,
    };
  }

  /**
   * Records an override (refused ones too); an accepted one lets the pipeline through. Checked
   * again here: the freeze may have ended while the attestation was being verified.
   */
  record(record: FreezeOverrideRecord, attestationValid?: boolean): FreezeOverrideRecord {
    if (attestationValid !== undefined) record.verified = attestationValid;
    if (attestationValid === false) {
      record.accepted = false;
      record.refusal = 'the attestation does not match this override (not signed by this Slipway installation)';
    }
    if (record.accepted && this.environment(record.environment).state !== 'frozen') {
      record.accepted = false;
      record.refusal = `${record.environment} is no longer frozen`;
    }
    (this.status.freezeOverrides ??= []).push(record);
    if (record.accepted) {
      this.overridden.add(record.environment);
      const freeze = this.environment(record.environment).freeze;
      if (freeze) Object.assign(freeze, { overriddenBy: record.approver, overrideReason: record.reason });
    }
    return record;
  }
}
