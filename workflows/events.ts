// Recording a delivery event from workflow code: the activity appends it to the audit log and
// notifies (activities/events). Never cancelled halfway (a cancelled pipeline's "cancelled" event
// is recorded too) and never fatal: a failure is logged, the delivery goes on.
import { CancellationScope, log } from '@temporalio/workflow';
import type { DeliveryEvent } from '../common/contract';
import { describeError } from './failures';
import { deliveryEvents } from './proxies';

export function recordEvent(event: DeliveryEvent): Promise<void> {
  return CancellationScope.nonCancellable(() => deliveryEvents.recordDeliveryEvent(event)).then(
    () => undefined,
    (err: unknown) => log.warn('delivery event not fully recorded', { event: event.id, error: describeError(err) }),
  );
}
