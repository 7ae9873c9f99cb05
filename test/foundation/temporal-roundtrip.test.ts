// A workflow round trip against the real Temporal dev server the harness started: a worker
// polls, runs a workflow and an activity, and the client reads the result and the history.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { Client, Connection } from '@temporalio/client';
import { NativeConnection, Worker } from '@temporalio/worker';
import { temporalAddress } from '../helpers/env';
import { quietTemporalRuntime } from '../helpers/runtime';

quietTemporalRuntime();

test('a workflow and its activity run on the real Temporal dev server', async () => {
  const connection = await Connection.connect({ address: temporalAddress() });
  const nativeConnection = await NativeConnection.connect({ address: temporalAddress() });
  const taskQueue = `roundtrip-${randomUUID()}`;
  const worker = await Worker.create({
    connection: nativeConnection,
    taskQueue,
    workflowsPath: require.resolve('./roundtrip-workflows'),
    activities: { shout: async (text: string) => text.toUpperCase() },
  });
  try {
    const result = await worker.runUntil(async () => {
      const client = new Client({ connection });
      const handle = await client.workflow.start('echo', {
        taskQueue,
        workflowId: `roundtrip-${randomUUID()}`,
        args: ['hello'],
      });
      const value = await handle.result();
      const history = await handle.fetchHistory();
      const types = history.events?.map((e) => e.eventType) ?? [];
      assert.ok(types.length >= 5, `expected a real history, got ${types.length} events`);
      return value;
    });
    assert.equal(result, 'HELLO from echo');
  } finally {
    await connection.close();
    await nativeConnection.close();
  }
});
