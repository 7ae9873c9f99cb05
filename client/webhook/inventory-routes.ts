// What runs where, over HTTP:
//   GET /environments[?service=a&service=b]   the inventory JSON (same as `slipway envs --json`)
//   GET /board                                the board page; ?fragment=1 is the part it refreshes
//   GET /board?token=<read token>             sets the read cookie, then redirects to /board
//   GET /                                     redirects to /board
// Reading follows the read-token rule of the other read routes (./read-access.ts). Requests that
// arrive while an inventory is being collected, or within `maxAgeMs` of the last one, share it:
// a board open on many screens costs Temporal and Marathon one collection every few seconds.
import { randomBytes } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Client } from '@temporalio/client';
import type { DeployConfig } from '../../common/config';
import type { Inventory } from '../../common/contract';
import { collectInventory, InventoryCache } from '../inventory';
import { temporalUiLink } from '../pipelines';
import { renderBoardFragment, renderBoardPage, renderTokenPage } from './board-page';
import { HttpError, sendJson } from './http';
import { mayRead, readCookie, requireReader } from './read-access';
import { secretMatches } from './auth';

export interface InventoryRouteOptions {
  client: Client;
  config: () => DeployConfig;
  readToken: string | undefined;
  /** Base URL of the Temporal UI for links (SLIPWAY_TEMPORAL_UI_URL); none: no UI links. */
  temporalUiUrl?: string;
  env: NodeJS.ProcessEnv;
  /** How old a shared inventory may be (default 2 s). */
  maxAgeMs?: number;
  /** How often the board fetches its fragment again (default 3 s). */
  refreshMs?: number;
}

function sendHtml(res: ServerResponse, status: number, html: string, nonce: string): void {
  res.writeHead(status, {
    'Content-Type': 'text/html; charset=utf-8',
    'Content-Length': Buffer.byteLength(html),
    'Cache-Control': 'no-store',
    'X-Content-Type-Options': 'nosniff',
    'Referrer-Policy': 'no-referrer',
    // Only our own inline script and style run, and the page talks to its own origin only.
    'Content-Security-Policy': `default-src 'none'; script-src 'nonce-${nonce}'; style-src 'nonce-${nonce}'; connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'`,
  });
  res.end(html);
}

export function createInventoryRoutes(opts: InventoryRouteOptions) {
  const cache = new InventoryCache();
  const maxAgeMs = opts.maxAgeMs ?? 2000;
  let shared: { at: number; inventory: Promise<Inventory> } | undefined;

  function inventory(services?: string[]): Promise<Inventory> {
    const collect = () => collectInventory(opts.client, opts.config(), { env: opts.env, cache, services });
    if (services) return collect();
    if (!shared || Date.now() - shared.at > maxAgeMs) {
      const pending = collect();
      shared = { at: Date.now(), inventory: pending };
      // A failed collection is not shared: the next request tries again.
      pending.catch(() => (shared?.inventory === pending ? (shared = undefined) : undefined));
    }
    return shared.inventory;
  }

  const links = {
    temporalUi: (workflowId: string) => temporalUiLink(opts.temporalUiUrl, opts.client.options.namespace, workflowId),
  };

  async function environments(req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
    requireReader(req, opts.readToken);
    const services = url.searchParams.getAll('service');
    try {
      sendJson(res, 200, await inventory(services.length ? services : undefined));
    } catch (err) {
      if (/^unknown service/.test((err as Error).message)) throw new HttpError(400, (err as Error).message);
      throw err;
    }
  }

  async function board(req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
    const nonce = randomBytes(16).toString('base64');
    const token = url.searchParams.get('token');
    if (token !== null && opts.readToken !== undefined) {
      if (!secretMatches(token, opts.readToken)) return sendHtml(res, 401, renderTokenPage(nonce, true), nonce);
      res.writeHead(303, { Location: '/board', 'Set-Cookie': readCookie(token, req), 'Cache-Control': 'no-store' });
      return void res.end();
    }
    if (!mayRead(req, opts.readToken)) {
      if (url.searchParams.has('fragment')) requireReader(req, opts.readToken);
      return sendHtml(res, 401, renderTokenPage(nonce, false), nonce);
    }
    const fragment = renderBoardFragment(await inventory(), links);
    if (url.searchParams.has('fragment')) return sendHtml(res, 200, fragment, nonce);
    sendHtml(res, 200, renderBoardPage(fragment, nonce, opts.refreshMs ?? 3000), nonce);
  }

  /** Handles the route and returns true, or returns false when the path is not one of these. */
  return async function inventoryRoutes(
    req: IncomingMessage,
    res: ServerResponse,
    url: URL,
    rawPath: string,
  ): Promise<boolean> {
    if (rawPath !== '/environments' && rawPath !== '/board' && rawPath !== '/') return false;
    if (req.method !== 'GET' && req.method !== 'HEAD') throw new HttpError(405, 'expected GET', {}, { Allow: 'GET' });
    if (rawPath === '/') {
      res.writeHead(302, { Location: '/board' });
      res.end();
    } else if (rawPath === '/environments') await environments(req, res, url);
    else await board(req, res, url);
    return true;
  };
}
