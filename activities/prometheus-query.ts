// Prometheus' HTTP API for one instant query: GET /api/v1/query?query=<PromQL>. Prometheus answers
//   success: {"status":"success","data":{"resultType":"vector","result":[{"metric":{...},"value":[<unix time>,"<number>"]}]}}
//            {"status":"success","data":{"resultType":"scalar","result":[<unix time>,"<number>"]}}
//   error:   {"status":"error","errorType":"bad_data","error":"..."} with 400 (the query is wrong),
//            422 (errorType "execution": it cannot be executed), 503 (errorType "timeout" or
//            "unavailable"); optional "warnings" with either.
// Values are strings ("NaN", "+Inf" included). Retryability is decided here, where the answer is
// read: a refused query or credential is not retried, an unreachable or busy Prometheus is.
import { ApplicationFailure } from '@temporalio/common';
import axios from 'axios';
import { NonRetryable } from '../common/errors';

/** One series' value: its labels and the number (NaN when Prometheus says so). */
export interface Sample {
  metric: Record<string, string>;
  value: number;
}

export interface QueryOptions {
  /** Sent as `Authorization: Bearer` (SLIPWAY_PROMETHEUS_TOKEN); only to the configured URL. */
  token?: string;
  timeoutMs?: number;
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

function valueOf(pair: unknown, what: string): number {
  if (!Array.isArray(pair) || pair.length !== 2 || typeof pair[1] !== 'string')
    throw new Error(`${what}: expected [<time>, "<value>"], got ${JSON.stringify(pair)}`);
  return Number(pair[1]);
}

/** The samples of a success answer: one per series of a vector, one for a scalar. */
export function samplesOf(body: unknown, where: string): Sample[] {
  const data = isObject(body) && isObject(body.data) ? body.data : undefined;
  const type = data?.resultType;
  if (type === 'scalar') return [{ metric: {}, value: valueOf(data?.result, `${where}: scalar result`) }];
  if (type === 'vector' && Array.isArray(data?.result))
    return data.result.map((r: unknown) => ({
      metric: isObject(r) && isObject(r.metric) ? (r.metric as Record<string, string>) : {},
      value: valueOf(isObject(r) ? r.value : undefined, `${where}: vector sample`),
    }));
  throw ApplicationFailure.nonRetryable(
    `${where} answered resultType ${JSON.stringify(type)}: expected an instant "vector" or a "scalar" (a range selector like [5m] needs a function such as rate() around it)`,
    NonRetryable.BadConfig,
  );
}

/** Runs one instant query against `baseUrl` and returns its samples. */
export async function prometheusQuery(baseUrl: string, query: string, opts: QueryOptions = {}): Promise<Sample[]> {
  const where = `Prometheus ${baseUrl} (query ${JSON.stringify(query)})`;
  let res;
  try {
    res = await axios.get(`${baseUrl.replace(/\/+$/, '')}/api/v1/query`, {
      params: { query },
      timeout: opts.timeoutMs ?? 10_000,
      maxRedirects: 0,
      validateStatus: () => true,
      headers: { Accept: 'application/json', ...(opts.token ? { Authorization: `Bearer ${opts.token}` } : {}) },
    });
  } catch (err) {
    const e = err as { code?: string; message?: string };
    // Retried by the activity: a Prometheus restart is not a bad release.
    throw new Error(`${where} unreachable: ${e.code ?? ''} ${e.message ?? String(err)}`.trim());
  }
  const body: unknown = res.data;
  if (res.status === 200 && isObject(body) && body.status === 'success') return samplesOf(body, where);
  const apiError = isObject(body) && body.status === 'error' ? `${String(body.errorType)}: ${String(body.error)}` : '';
  const answer = `${where} answered ${res.status}${apiError ? ` (${apiError})` : ''}`;
  if (res.status === 400 || res.status === 422)
    throw ApplicationFailure.nonRetryable(`${answer}: fix the query in verify.metrics`, NonRetryable.BadConfig);
  if (res.status === 401 || res.status === 403)
    throw ApplicationFailure.nonRetryable(
      `${answer}: set SLIPWAY_PROMETHEUS_TOKEN in the worker's environment`,
      NonRetryable.Unauthorized,
    );
  if (res.status === 404)
    throw ApplicationFailure.nonRetryable(`${answer}: not Prometheus' query API`, NonRetryable.BadConfig);
  // 503 (timeout, unavailable), other 5xx, or an answer cut short: worth another try.
  throw new Error(answer);
}
