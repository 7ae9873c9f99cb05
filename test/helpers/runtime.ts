// Tests keep the Temporal SDK quiet (warnings and errors only) so test output stays readable, and
// tell the time-skipping test server about Slipway's search attributes.
import type { Connection } from '@temporalio/client';
import { temporal } from '@temporalio/proto';
import { DefaultLogger, Runtime } from '@temporalio/worker';
import { slipwaySearchAttributes } from '../../common/search-attributes';

let installed = false;
export function quietTemporalRuntime(): void {
  if (installed) return;
  installed = true;
  Runtime.install({ logger: new DefaultLogger((process.env.SLIPWAY_TEST_SDK_LOG as 'WARN') ?? 'WARN') });
}

/** The time-skipping test server knows no custom search attributes until told. */
export async function registerSearchAttributes(connection: Connection): Promise<void> {
  await connection.operatorService.addSearchAttributes({
    namespace: 'default',
    searchAttributes: Object.fromEntries(
      slipwaySearchAttributes.map((k) => [k.name, temporal.api.enums.v1.IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD]),
    ),
  });
}
