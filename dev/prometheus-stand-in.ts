// A stand-in for Prometheus' HTTP query API, for tests and local runs only: it evaluates no
// PromQL. A test says what each query answers, and the stand-in serves it in the shapes the
// Prometheus documentation gives for GET (or form POST) /api/v1/query:
//   {"status":"success","data":{"resultType":"vector","result":[{"metric":{...},"value":[<time>,"<v>"]}]}}
//   {"status":"success","data":{"resultType":"scalar","result":[<time>,"<v>"]}}
//   {"status":"error","errorType":"bad_data","error":"..."} with 400; "execution" with 422;
//   "timeout" or "unavailable" with 503.
// A query nobody set answers an empty vector, as Prometheus does for a metric with no series.
// A missing `query` parameter answers 400 bad_data, as Prometheus does.
import http from 'node:http';
import type { AddressInfo } from 'node:net';

export type StandInAnswer =
  | { vector: { metric?: Record<string, string>; value: number | string }[] }
  | { scalar: number | string }
  | { matrix: true }
  | { error: 'bad_data' | 'execution' | 'timeout' | 'unavailable'; message: string };

export interface PrometheusStandIn {
  url: string;
  /** What `query` answers from now on. */
  answer(query: string, answer: StandInAnswer): void;
  /** Every query received, in order. */
  queries: string[];
  close(): Promise<void>;
}

const errorStatus = { bad_data: 400, execution: 422, timeout: 503, unavailable: 503 } as const;

function reply(answer: StandInAnswer | undefined, now: number): { status: number; body: unknown } {
  const value = (v: number | string) => [now, String(v)];
  if (!answer) return { status: 200, body: { status: 'success', data: { resultType: 'vector', result: [] } } };
  if ('error' in answer)
    return {
      status: errorStatus[answer.error],
      body: { status: 'error', errorType: answer.error, error: answer.message },
    };
  if ('scalar' in answer)
    return { status: 200, body: { status: 'success', data: { resultType: 'scalar', result: value(answer.scalar) } } };
  if ('matrix' in answer)
    return {
      status: 200,
      body: { status: 'success', data: { resultType: 'matrix', result: [{ metric: {}, values: [value(1)] }] } },
    };
  const result = answer.vector.map((s) => ({ metric: s.metric ?? {}, value: value(s.value) }));
  return { status: 200, body: { status: 'success', data: { resultType: 'vector', result } } };
}

async function queryOf(req: http.IncomingMessage, url: URL): Promise<string | null> {
  if (req.method !== 'POST') return url.searchParams.get('query');
  let body = '';
  for await (const chunk of req) body += String(chunk);
  return new URLSearchParams(body).get('query');
}

export async function startPrometheusStandIn(host = '127.0.0.1'): Promise<PrometheusStandIn> {
  const answers = new Map<string, StandInAnswer>();
  const queries: string[] = [];
  const server = http.createServer((req, res) => {
    void (async () => {
      const url = new URL(req.url ?? '/', 'http://stand-in');
      let out: { status: number; body: unknown };
      if (url.pathname !== '/api/v1/query' || !['GET', 'POST'].includes(req.method ?? ''))
        out = { status: 404, body: '404 page not found' };
      else {
        const query = await queryOf(req, url);
        if (query === null || query === '')
          out = reply({ error: 'bad_data', message: 'invalid parameter "query": unknown query' }, 0);
        else {
          queries.push(query);
          out = reply(answers.get(query), Date.now() / 1000);
        }
      }
      const text = typeof out.body === 'string' ? out.body : JSON.stringify(out.body);
      res.writeHead(out.status, { 'Content-Type': typeof out.body === 'string' ? 'text/plain' : 'application/json' });
      res.end(text);
    })();
  });
  await new Promise<void>((resolve) => server.listen(0, host, resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://${host}:${port}`,
    answer: (query, answer) => void answers.set(query, answer),
    queries,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
