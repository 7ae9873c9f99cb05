// Routes the Temporal SDK's own logs (workflow and activity loggers, core) into Slipway's
// structured logger, so a worker prints one format and the workflow ID lands on every line
// that has one. Must run before any Worker or NativeConnection is created.
import { DefaultLogger, Runtime, type LogEntry } from '@temporalio/worker';
import { createLogger } from '../common/log';

let installed = false;

export function installRuntimeLogging(): void {
  if (installed) return;
  installed = true;
  const log = createLogger('temporal');
  const level = (process.env.SLIPWAY_LOG_LEVEL ?? 'info').toUpperCase();
  const sdkLevel = (['TRACE', 'DEBUG', 'INFO', 'WARN', 'ERROR'].includes(level) ? level : 'INFO') as 'INFO';
  Runtime.install({
    logger: new DefaultLogger(sdkLevel, (entry: LogEntry) => {
      const meta = { ...(entry.meta ?? {}) };
      const fields = {
        workflowId: meta.workflowId,
        activityType: meta.activityType,
        workflowType: meta.workflowType,
        ...meta,
      };
      const at =
        entry.level === 'ERROR' ? 'error' : entry.level === 'WARN' ? 'warn' : entry.level === 'INFO' ? 'info' : 'debug';
      log[at](entry.message, fields);
    }),
  });
}
