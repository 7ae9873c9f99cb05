// Tests keep the Temporal SDK quiet (warnings and errors only) so test output stays readable.
import { DefaultLogger, Runtime } from '@temporalio/worker';

let installed = false;
export function quietTemporalRuntime(): void {
  if (installed) return;
  installed = true;
  Runtime.install({ logger: new DefaultLogger((process.env.SLIPWAY_TEST_SDK_LOG as 'WARN') ?? 'WARN') });
}
