// The freeze gate (slipway.yaml `freeze:`, patch freeze-windows): before an environment's approval
// gate and again before its deploy, the worker is asked — a local activity over its own deploy
// config, never a message — whether a freeze window holds the environment now. If one does, the
// pipeline waits "frozen" on a durable timer until the window ends, or until an approver of the
// environment overrides the freeze with a reason; after the timer it asks again, because the
// config may have changed or a second window begun.
import { ApplicationFailure, condition, setHandler } from '@temporalio/workflow';
import {
  messageDescriptions,
  overrideFreezeSignal,
  overrideFreezeUpdate,
  type DecisionChannel,
  type FreezeOverrideRequest,
} from '../../common/contract';
import type { Quick } from '../proxies';
import { checkAttestation } from './attestation-check';
import type { PipelineEvents } from './events';
import type { GitlabReporter } from './reporting';
import type { PipelineRun } from './run';

export async function freezeGate(
  run: PipelineRun,
  name: string,
  steps: { quick: Quick; gitlab: GitlabReporter; publish: () => void; events: PipelineEvents },
): Promise<void> {
  let held = false;
  while (!run.freezes.overriddenFor(name)) {
    const check = await steps.quick.checkFreeze({ environment: name, at: new Date().toISOString() });
    if (!check.frozen) break;
    run.freezes.freeze(name, check);
    steps.publish();
    if (!held) {
      await steps.gitlab.freezeStatus(name, 'pending', frozenNote(run, name));
      await steps.events.emit({ kind: 'frozen', environment: name, reason: frozenNote(run, name) });
    }
    held = true;
    await condition(() => run.freezes.overriddenFor(name), Math.max(1, Date.parse(check.until) - Date.now()));
  }
  if (!held) return;
  const freeze = run.environment(name).freeze;
  run.freezes.thaw(name);
  steps.publish();
  const how = freeze?.overriddenBy
    ? `freeze overridden by ${freeze.overriddenBy}: ${freeze.overrideReason ?? ''}`
    : 'freeze over';
  await steps.gitlab.freezeStatus(name, 'success', how);
  if (freeze?.overriddenBy) {
    const reason = freeze.overrideReason;
    await steps.events.emit({
      kind: 'freeze-overridden',
      environment: name,
      actor: freeze.overriddenBy,
      ...(reason ? { reason } : {}),
    });
  }
}

/** "production frozen until 2026-12-07 08:00 Europe/Berlin (weekend)". */
export function frozenNote(run: PipelineRun, name: string): string {
  const freeze = run.environment(name).freeze;
  return `${name} frozen until ${freeze?.untilLocal ?? '?'} (${freeze?.reasons.join(', ') ?? ''})`;
}

/**
 * The override messages: a Signal (recorded, refused or not) and an Update that answers the
 * refusal at once. The Update has no validator on purpose: a refused override is recorded too.
 */
export function acceptFreezeOverrides(run: PipelineRun, quick: Quick, publishRun: () => void): void {
  const override = async (request: FreezeOverrideRequest, channel: DecisionChannel) => {
    const record = run.freezes.receive(request, channel);
    const check = checkAttestation(run, quick, 'override-freeze', record, request?.attestation);
    run.freezes.record(record, check && (await check));
    publishRun();
    return record;
  };
  setHandler(overrideFreezeSignal, async (request) => void (await override(request, 'signal')), {
    description: messageDescriptions.overrideFreeze,
  });
  setHandler(
    overrideFreezeUpdate,
    async (request) => {
      const record = await override(request, 'update');
      if (!record.accepted) throw ApplicationFailure.nonRetryable(record.refusal ?? 'refused', 'FreezeOverrideRefused');
      return record;
    },
    { description: messageDescriptions.overrideFreezeWindow },
  );
}
