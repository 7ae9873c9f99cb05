// Connecting to Temporal the way Temporal's own tools do: TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE,
// TLS and API key from the environment or a temporal.toml profile, read by @temporalio/envconfig.
// With nothing set, the local dev server of `slipway up` (127.0.0.1:7233, namespace default).
import { Client, Connection } from '@temporalio/client';
import { loadClientConnectConfig } from '@temporalio/envconfig';
import type { NativeConnectionOptions } from '@temporalio/worker';

export interface TemporalSettings {
  connectionOptions: NativeConnectionOptions;
  namespace: string;
}

export function temporalSettingsFromEnv(): TemporalSettings {
  const { connectionOptions, namespace } = loadClientConnectConfig();
  return {
    connectionOptions: {
      ...connectionOptions,
      address: connectionOptions.address ?? process.env.TEMPORAL_ADDRESS ?? '127.0.0.1:7233',
    },
    namespace: namespace ?? process.env.TEMPORAL_NAMESPACE ?? 'default',
  };
}

/** A client for CLI commands, servers and activities that signal workflows. Close its connection when done. */
export async function connectClient(settings: TemporalSettings = temporalSettingsFromEnv()): Promise<Client> {
  const { address, tls, apiKey, metadata } = settings.connectionOptions;
  const connection = await Connection.connect({ address, tls, apiKey, metadata, connectTimeout: '10s' }).catch(
    (err: Error) => {
      throw new Error(
        `cannot reach Temporal at ${address} (${err.message}); start it with \`npm start\` or set TEMPORAL_ADDRESS`,
      );
    },
  );
  return new Client({ connection, namespace: settings.namespace });
}
