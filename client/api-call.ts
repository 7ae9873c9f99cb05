// Commands that act in an approver's name through Slipway's HTTP API (`--token` or SLIPWAY_TOKEN):
// the API authenticates the token and acts as its owner. One place for where the API is and how a
// call is made, so approve, reject, promote, rerun and rollback say the same things when it is away.
import { readEndpoints } from './cli-support';

/** --api, else SLIPWAY_API_URL, else the server `slipway up` runs, else the default port. */
export function apiBase(api?: string): string {
  return (
    api ??
    process.env.SLIPWAY_API_URL ??
    readEndpoints()?.webhook?.replace(/\/webhooks\/gitlab$/, '') ??
    'http://127.0.0.1:8787'
  ).replace(/\/+$/, '');
}

/** POSTs JSON with the approver token; answers the status and the parsed body (empty when not JSON). */
export async function postToApi(
  base: string,
  path: string,
  token: string,
  body: unknown,
): Promise<{ ok: boolean; status: number; statusText: string; answer: Record<string, unknown> }> {
  let res: Response;
  try {
    res = await fetch(`${base}${path}`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
  } catch (err) {
    throw new Error(
      `the Slipway API at ${base} does not answer (${(err as Error).message}); set --api or SLIPWAY_API_URL`,
    );
  }
  const answer = (await res.json().catch(() => ({}))) as Record<string, unknown>;
  return { ok: res.ok, status: res.status, statusText: res.statusText, answer };
}
