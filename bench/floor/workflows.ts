// The smallest workflows that do what Slipway's do, run on the same server as the benchmarks so
// Slipway's figures can be read against the floor any Temporal application pays there:
//  - floorChain: schedule an activity, react to its result, N times (the overhead section);
//  - floorGate: wait at a gate like a pipeline waiting for approval (a search attribute says so,
//    as the pipeline's does), then on a Signal run the two activity steps production runs after
//    an approval (deploy, health wait) and finish (the scale section).
import { condition, defineSignal, proxyActivities, setHandler, upsertSearchAttributes } from '@temporalio/workflow';
import { StateAttribute } from '../../common/search-attributes';

const { noop } = proxyActivities<{ noop(): Promise<void> }>({ startToCloseTimeout: '10s' });

export async function floorChain(steps: number): Promise<void> {
  for (let i = 0; i < steps; i++) await noop();
}

export const openGate = defineSignal('openGate');

export async function floorGate(stepsAfterGate: number): Promise<void> {
  let open = false;
  setHandler(openGate, () => void (open = true));
  upsertSearchAttributes([{ key: StateAttribute, value: 'waiting-approval' }]);
  await condition(() => open);
  for (let i = 0; i < stepsAfterGate; i++) await noop();
}
