// Structured logging for every Slipway process: one JSON object per line when stdout is not a
// terminal (for log shippers), a short readable line when it is. Temporal's worker logs are routed
// here too (worker/runtime.ts), so a workflowId in the metadata shows on every line that has one.

export type LogLevel = 'debug' | 'info' | 'warn' | 'error';
export type LogFields = Record<string, unknown>;

const order: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };
const threshold = order[(process.env.SLIPWAY_LOG_LEVEL as LogLevel) ?? 'info'] ?? order.info;
const pretty = process.env.SLIPWAY_LOG_FORMAT ? process.env.SLIPWAY_LOG_FORMAT === 'pretty' : process.stderr.isTTY;

export interface Logger {
  debug(message: string, fields?: LogFields): void;
  info(message: string, fields?: LogFields): void;
  warn(message: string, fields?: LogFields): void;
  error(message: string, fields?: LogFields): void;
  child(fields: LogFields): Logger;
}

function serialise(value: unknown): unknown {
  if (value instanceof Error) return { name: value.name, message: value.message, stack: value.stack };
  return value;
}

/** Fields of the surrounding work (a worker sets the activity's workflow and run IDs). */
let ambientFields: () => LogFields = () => ({});

export function setAmbientLogFields(provider: () => LogFields): void {
  ambientFields = provider;
}

function write(level: LogLevel, component: string, message: string, fields: LogFields): void {
  if (order[level] < threshold) return;
  const entries = Object.entries({ ...ambientFields(), ...fields }).filter(([, v]) => v !== undefined);
  if (pretty) {
    const time = new Date().toISOString().slice(11, 23);
    const extra = entries.map(([k, v]) => `${k}=${typeof v === 'string' ? v : JSON.stringify(serialise(v))}`).join(' ');
    process.stderr.write(
      `${time} ${level.toUpperCase().padEnd(5)} [${component}] ${message}${extra ? ' ' + extra : ''}\n`,
    );
    return;
  }
  const record: LogFields = { time: new Date().toISOString(), level, component, msg: message };
  for (const [k, v] of entries) record[k] = serialise(v);
  process.stderr.write(JSON.stringify(record) + '\n');
}

export function createLogger(component: string, base: LogFields = {}): Logger {
  const at =
    (level: LogLevel) =>
    (message: string, fields: LogFields = {}) =>
      write(level, component, message, { ...base, ...fields });
  return {
    debug: at('debug'),
    info: at('info'),
    warn: at('warn'),
    error: at('error'),
    child: (fields) => createLogger(component, { ...base, ...fields }),
  };
}
