// A small stand-in for GitLab's REST API (v4), checking each request the way GitLab does: the
// PRIVATE-TOKEN (401 {"message":"401 Unauthorized"}), required fields (400 {"error":"<field> is
// missing"}), enumerated values, 255-character limits, commit status transitions (same state
// again -> 400 "Cannot transition status via :<event> from :<state>"), deployment status
// transitions and unknown refs. Sources: docs.gitlab.com api/commits ("Set the pipeline status
// of a commit"), api/deployments, api/rest/authentication.
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface FakeStatus {
  id: number;
  sha: string;
  ref: string | null;
  name: string;
  status: string;
  description: string | null;
  target_url: string | null;
}

export interface FakeDeployment {
  id: number;
  iid: number;
  environment: string;
  sha: string;
  ref: string;
  tag: boolean;
  status: string;
}

export interface FakeGitlab {
  url: string;
  requests: { method: string; path: string; body: unknown; token?: string }[];
  statuses: FakeStatus[];
  deployments: FakeDeployment[];
  /** Make the next N requests answer 500 (GitLab having a bad moment). */
  failNext(n: number): void;
  /** Make status reads return nothing (as if a lost answer left us not knowing our own post). */
  hideStatusReads(hide: boolean): void;
  /**
   * Answers of GET /projects/:id/repository/compare by "from..to": the commits between and the
   * diffs (old_path/new_path of each changed file), as GitLab's compare API returns them.
   */
  comparisons: Map<
    string,
    { commits: { id: string }[]; diffs: { old_path: string; new_path: string }[]; compare_timeout?: boolean }
  >;
  close(): Promise<void>;
}

const commitStates = ['pending', 'running', 'success', 'failed', 'canceled', 'skipped'];
const finished = ['success', 'failed', 'canceled', 'skipped'];
const events: Record<string, string> = {
  pending: 'enqueue',
  running: 'run',
  success: 'succeed',
  failed: 'drop',
  canceled: 'cancel',
  skipped: 'skip',
};
const deploymentStates = ['running', 'success', 'failed', 'canceled'];

export async function startFakeGitlab(opts: {
  token: string;
  projects: Record<string, { id: number; refs: string[] }>;
}): Promise<FakeGitlab> {
  const requests: FakeGitlab['requests'] = [];
  const statuses: FakeStatus[] = [];
  const deployments: FakeDeployment[] = [];
  let failures = 0;
  let hideReads = false;
  let nextId = 100;
  const comparisons: FakeGitlab['comparisons'] = new Map();

  const send = (res: ServerResponse, status: number, body: unknown) => {
    res.writeHead(status, { 'Content-Type': 'application/json' });
    res.end(JSON.stringify(body));
  };

  function project(id: string) {
    const decoded = decodeURIComponent(id);
    for (const [path, p] of Object.entries(opts.projects))
      if (path === decoded || String(p.id) === decoded) return { path, ...p };
    return undefined;
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const text = Buffer.concat(chunks).toString('utf8');
    const body = (text ? JSON.parse(text) : {}) as Record<string, unknown>;
    const url = new URL(req.url ?? '/', 'http://x');
    const token = req.headers['private-token'] as string | undefined;
    requests.push({ method: req.method ?? '', path: url.pathname + url.search, body, token });
    if (token !== opts.token) return send(res, 401, { message: '401 Unauthorized' });
    if (failures > 0) {
      failures--;
      return send(res, 500, { message: '500 Internal Server Error' });
    }
    const m = /^\/api\/v4\/projects\/([^/]+)\/(.*)$/.exec(url.pathname);
    const p = m ? project(m[1] as string) : undefined;
    if (!m || !p) return send(res, 404, { message: '404 Project Not Found' });
    const rest = m[2] as string;
    const tooLong = ['description', 'target_url', 'ref'].find(
      (f) => typeof body[f] === 'string' && (body[f] as string).length > 255,
    );

    let r: RegExpExecArray | null;
    if (req.method === 'POST' && (r = /^statuses\/([0-9a-f]{40})$/.exec(rest))) {
      if (body.state === undefined) return send(res, 400, { error: 'state is missing' });
      if (!commitStates.includes(String(body.state)))
        return send(res, 400, { error: 'state does not have a valid value' });
      if (tooLong) return send(res, 400, { error: `${tooLong} is too long (maximum is 255 characters)` });
      const sha = r[1] as string;
      const name = String(body.name ?? body.context ?? 'default');
      const ref = (body.ref as string | undefined) ?? null;
      const current = statuses
        .filter((s) => s.sha === sha && s.name === name && (ref === null || s.ref === ref))
        .sort((a, b) => b.id - a.id)[0];
      const state = String(body.state);
      if (current && !finished.includes(current.status)) {
        // The state machine refuses an event that does not move the status (or moves it back).
        if (current.status === state || (current.status === 'running' && state === 'pending')) {
          return send(res, 400, {
            message: `Cannot transition status via :${events[state]} from :${current.status} (Reason(s): Status cannot transition via "${events[state]}")`,
          });
        }
        current.status = state;
        current.description = (body.description as string) ?? current.description;
        current.target_url = (body.target_url as string) ?? current.target_url;
        return send(res, 201, current);
      }
      const created: FakeStatus = {
        id: nextId++,
        sha,
        ref,
        name,
        status: state,
        description: (body.description as string) ?? null,
        target_url: (body.target_url as string) ?? null,
      };
      statuses.push(created);
      return send(res, 201, created);
    }
    if (req.method === 'GET' && (r = /^repository\/commits\/([0-9a-f]{40})\/statuses$/.exec(rest))) {
      if (hideReads) return send(res, 200, []);
      const name = url.searchParams.get('name');
      const ref = url.searchParams.get('ref');
      return send(
        res,
        200,
        statuses.filter((s) => s.sha === r![1] && (!name || s.name === name) && (!ref || s.ref === ref)),
      );
    }
    if (req.method === 'GET' && rest === 'repository/compare') {
      const from = url.searchParams.get('from');
      const to = url.searchParams.get('to');
      if (!from) return send(res, 400, { error: 'from is missing' });
      if (!to) return send(res, 400, { error: 'to is missing' });
      const found = comparisons.get(`${from}..${to}`);
      if (!found) return send(res, 404, { message: '404 Not found' });
      return send(res, 200, {
        commit: found.commits.at(-1) ?? null,
        commits: found.commits,
        diffs: found.diffs.map((d) => ({ ...d, diff: '', new_file: false, renamed_file: false, deleted_file: false })),
        compare_timeout: found.compare_timeout ?? false,
        compare_same_ref: from === to,
      });
    }
    if (req.method === 'POST' && rest === 'deployments') {
      for (const f of ['environment', 'sha', 'ref', 'tag', 'status'])
        if (body[f] === undefined) return send(res, 400, { error: `${f} is missing` });
      if (!deploymentStates.includes(String(body.status)))
        return send(res, 400, { error: 'status does not have a valid value' });
      if (!p.refs.includes(String(body.ref))) return send(res, 400, { ref: ['The branch or tag does not exist'] });
      const d: FakeDeployment = {
        id: nextId++,
        iid: deployments.length + 1,
        environment: String(body.environment),
        sha: String(body.sha),
        ref: String(body.ref),
        tag: Boolean(body.tag),
        status: String(body.status),
      };
      deployments.push(d);
      return send(res, 201, { ...d, deployable: null });
    }
    if (req.method === 'GET' && rest === 'deployments') {
      const env = url.searchParams.get('environment');
      return send(
        res,
        200,
        deployments.filter((d) => !env || d.environment === env).sort((a, b) => b.id - a.id),
      );
    }
    if ((r = /^deployments\/(\d+)$/.exec(rest))) {
      const d = deployments.find((x) => x.id === Number(r![1]));
      if (!d) return send(res, 404, { message: '404 Not found' });
      if (req.method === 'GET') return send(res, 200, d);
      if (req.method === 'PUT') {
        if (body.status === undefined) return send(res, 400, { error: 'status is missing' });
        if (!deploymentStates.includes(String(body.status)))
          return send(res, 400, { error: 'status does not have a valid value' });
        if (d.status !== 'running' && d.status !== 'created')
          return send(res, 400, { message: `Cannot transition status via :${body.status} from :${d.status}` });
        d.status = String(body.status);
        return send(res, 200, d);
      }
    }
    return send(res, 404, { message: '404 Not Found' });
  }

  const server = createServer(
    (req, res) => void handle(req, res).catch((err: Error) => send(res, 500, { message: err.message })),
  );
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    requests,
    statuses,
    deployments,
    failNext: (n) => void (failures = n),
    hideStatusReads: (hide) => void (hideReads = hide),
    comparisons,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
