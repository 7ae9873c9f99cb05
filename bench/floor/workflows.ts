// The smallest workflow that does what a pipeline step does: schedule an activity, react to its
// result. Run on the same server as the overhead section, it shows the floor any Temporal
// application pays per step there, so Slipway's own figure can be read against it.
import { proxyActivities } from '@temporalio/workflow';

const { noop } = proxyActivities<{ noop(): Promise<void> }>({ startToCloseTimeout: '10s' });

export async function floorChain(steps: number): Promise<void> {
  for (let i = 0; i < steps; i++) await noop();
}
