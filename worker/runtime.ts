// The Temporal SDK runtime of a worker process: the SDK's own logs (workflow and activity loggers,
// core) go into Slipway's structured logger with the workflow and run IDs on every line that has
// them, Slipway's activity logs get the same IDs, and, when asked, the SDK's runtime metrics are
// exported for Prometheus (worker/metrics-server.ts serves them with Slipway's own on /metrics).
// Must run before any Worker or NativeConnection is created.
import { Context } from '@temporalio/activity';
import { DefaultLogger, Runtime, type LogEntry } from '@temporalio/worker';
import { createLogger, setAmbientLogFields, type LogFields } from '../common/log';

let installed = false;

export interface RuntimeOptions {
  /** host:port for the SDK's Prometheus exporter (its /metrics); none: no SDK metrics. */
  prometheusBindAddress?: string;
}

/** The activity running in this async context, if any: who a log line of an activity is about. */
function activityFields(): LogFields {
  try {
    const info = Context.current().info;
    return {
      workflowId: info.workflowExecution?.workflowId,
      runId: info.workflowExecution?.runId,
      activityType: info.activityType,
    };
  } catch {
    return {};
  }
}

export function installRuntimeLogging(opts: RuntimeOptions = {}): void {
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
        // Workflow loggers call it runId, activity loggers workflowRunId.
        runId: meta.runId ?? meta.workflowRunId,
        activityType: meta.activityType,
        workflowType: meta.workflowType,
        ...meta,
      };
      const at =
        entry.level === 'ERROR' ? 'error' : entry.level === 'WARN' ? 'warn' : entry.level === 'INFO' ? 'info' : 'debug';
      log[at](entry.message, fields);
    }),
    ...(opts.prometheusBindAddress
      ? { telemetryOptions: { metrics: { prometheus: { bindAddress: opts.prometheusBindAddress } } } }
      : {}),
  });
  setAmbientLogFields(activityFields);
}
