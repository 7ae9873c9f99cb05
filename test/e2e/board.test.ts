// The board in a real browser (Debian's chromium driven by playwright-core) on a real stack: real
// Temporal, lanes that deployed to Marathon emulators (test/helpers/delivered-stack.ts), the
// webhook server with a read token. The page asks for the token, shows the grid (commit, approver,
// live instances), the pipeline waiting for approval with its Temporal UI and API links, and
// follows an approval without a reload; on a phone-sized screen it fits the width.
// Screenshots go to test-results/board/ (docs/images/board.png is one of them).
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, rmSync } from 'node:fs';
import path from 'node:path';
import { randomUUID } from 'node:crypto';
import { after, before, test } from 'node:test';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { startWebhookServer, type WebhookServer } from '../../client/webhook';
import { projectRoot } from '../../common/paths';
import type { PipelineStatus } from '../../common/contract';
import { startDeliveredStack, type DeliveredStack } from '../helpers/delivered-stack';
import { requireEnv } from '../helpers/env';

const chromiumPath = '/usr/bin/chromium';
const shots = path.join(projectRoot, 'test-results', 'board');
const readToken = `read-${randomUUID()}`;

let world: DeliveredStack | undefined;
let server: WebhookServer | undefined;
let browser: Browser | undefined;
let delivered: PipelineStatus;
let waiting: PipelineStatus;
let uiBase: string;

before(async () => {
  // Fail, never skip: a green run must mean a browser really showed the board.
  if (!existsSync(chromiumPath))
    throw new Error(`${chromiumPath} is missing: run \`bash dev/setup.sh --for-tests\` (installs Debian's chromium)`);
  rmSync(shots, { recursive: true, force: true });
  mkdirSync(shots, { recursive: true });
  uiBase = requireEnv('SLIPWAY_TEST_TEMPORAL_UI');
  world = await startDeliveredStack('board');
  const [a, b] = world.stack.services as [string, string];
  const [gateA, gateB] = await Promise.all([world.toProductionGate(a), world.toProductionGate(b)]);
  delivered = await world.approveProduction(gateA.workflowId, 'alice');
  waiting = gateB;
  server = await startWebhookServer({
    port: 0,
    client: world.stack.client,
    insecureNoToken: true,
    configDir: world.stack.configDir,
    temporalUiUrl: uiBase,
    env: { ...process.env, SLIPWAY_READ_TOKEN: readToken },
  });
  browser = await chromium.launch({
    executablePath: chromiumPath,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
    // No --user-data-dir here: playwright refuses it in launch() and gives every launch a new,
    // empty profile directory of its own (removed when the browser closes).
  });
});

after(async () => {
  await browser?.close();
  await server?.close();
  await world?.stop();
});

/** A page that has shown the read token once (the cookie), as a person would open the board. */
async function openBoard(context: BrowserContext): Promise<Page> {
  const page = await context.newPage();
  page.setDefaultTimeout(20_000);
  const first = await page.goto(`${server!.url}/board`);
  assert.equal(first?.status(), 401);
  await page.getByLabel('Read token').fill(readToken);
  await page.getByRole('button', { name: 'Open the board' }).click();
  await page.waitForURL(`${server!.url}/board`);
  await page.locator('table.grid').waitFor();
  return page;
}

const cellOf = (page: Page, service: string, env: string) =>
  page.locator(`td[data-service="${service}"][data-env="${env}"]`);

test('the board shows what runs where and what waits, and follows an approval live', async () => {
  const context = await browser!.newContext({ viewport: { width: 1280, height: 520 } });
  const page = await openBoard(context);
  const a = delivered.service;
  const b = waiting.service;

  const production = cellOf(page, a, 'production');
  assert.match(await production.locator('.sha').innerText(), new RegExp(`^${delivered.commit.slice(0, 12)}$`));
  assert.equal(await production.locator('.approved').innerText(), 'approved by alice');
  assert.equal(await production.locator('.instances').innerText(), '2/2 (2 healthy)');
  assert.equal(await cellOf(page, a, 'test').locator('.approved').innerText(), 'no gate');
  assert.match(await cellOf(page, b, 'production').innerText(), /not deployed/);
  assert.match(
    await page.locator('th[data-env="production"] .totals').innerText(),
    /^2\/2 instances · 0\.2 cpus · 256 MiB$/,
  );

  // What waits: linked to the Temporal UI page of the pipeline and to its status API.
  const item = page.locator(`#waiting li[data-workflow-id="${waiting.workflowId}"]`);
  assert.match(await item.innerText(), new RegExp(`${b}\\s+${waiting.commit.slice(0, 12)}\\s+→\\s+production`));
  assert.equal(
    await item.locator('a.ui-link').getAttribute('href'),
    `${uiBase}/namespaces/default/workflows/${encodeURIComponent(waiting.workflowId)}`,
  );
  const api = await item.locator('a.api-link').getAttribute('href');
  // The cookie is this browser's read token: the API link opens with it.
  const status = (await (await page.request.get(`${server!.url}${api}`)).json()) as PipelineStatus;
  assert.equal(status.state, 'waiting-approval');
  const ui = await context.newPage();
  await ui.goto(`${uiBase}/namespaces/default/workflows/${encodeURIComponent(waiting.workflowId)}`);
  await ui.getByRole('heading', { name: waiting.workflowId }).waitFor();
  await ui.close();
  await page.screenshot({ path: path.join(shots, 'board.png'), fullPage: true });

  // A change without a reload: bob approves b into production; the page swaps in the new state.
  await page.evaluate(() => ((globalThis as unknown as { notReloaded: boolean }).notReloaded = true));
  await world!.approveProduction(waiting.workflowId, 'bob');
  await cellOf(page, b, 'production').locator('.approved', { hasText: 'approved by bob' }).waitFor({ timeout: 30_000 });
  assert.match(
    await cellOf(page, b, 'production').locator('.sha').innerText(),
    new RegExp(waiting.commit.slice(0, 12)),
  );
  await page.locator('#waiting p.none', { hasText: 'nothing waits' }).waitFor();
  assert.equal(await page.evaluate(() => (globalThis as unknown as { notReloaded?: boolean }).notReloaded), true);
  assert.match(await page.locator('#state').innerText(), /^live, updated /);
  await page.screenshot({ path: path.join(shots, 'board-after-approval.png'), fullPage: true });
  await context.close();
});

test('on a phone the board fits the screen, one card per service', async () => {
  const context = await browser!.newContext({
    viewport: { width: 390, height: 844 },
    deviceScaleFactor: 2,
    isMobile: true,
    hasTouch: true,
  });
  const page = await openBoard(context);
  const widths = await page.evaluate(() => {
    // The page's own globals (this file is compiled without the DOM's types).
    const w = globalThis as unknown as { innerWidth: number; document: { documentElement: { scrollWidth: number } } };
    return { page: w.document.documentElement.scrollWidth, screen: w.innerWidth };
  });
  assert.ok(widths.page <= widths.screen, `page ${widths.page}px wide on a ${widths.screen}px screen`);
  // Column headers are hidden there, so each cell names its environment itself.
  const label = cellOf(page, delivered.service, 'production').locator('.label');
  assert.equal(await label.isVisible(), true);
  assert.equal(await label.innerText(), 'production');
  // And the totals the hidden headers carried are listed above the cards (both services run in
  // production since the approval of the test above).
  const totals = page.locator('ul.env-totals li[data-env="production"]');
  assert.equal(await totals.isVisible(), true);
  assert.match(await totals.innerText(), /^production 4\/4 instances · 0\.4 cpus · 512 MiB$/);
  await page.screenshot({ path: path.join(shots, 'board-phone.png'), fullPage: true });
  await context.close();
});

test('without the read token the board and its data stay closed', async () => {
  const res = await fetch(`${server!.url}/environments`);
  assert.equal(res.status, 401);
  const fragment = await fetch(`${server!.url}/board?fragment=1`);
  assert.equal(fragment.status, 401);
  const wrong = await fetch(`${server!.url}/board?token=nope`, { redirect: 'manual' });
  assert.equal(wrong.status, 401);
  assert.equal(wrong.headers.get('set-cookie'), null);
  const right = await fetch(`${server!.url}/board?token=${readToken}`, { redirect: 'manual' });
  assert.equal(right.status, 303);
  assert.equal(right.headers.get('location'), '/board');
  assert.match(right.headers.get('set-cookie') ?? '', /^slipway_read=[^;]+; Path=\/; HttpOnly; SameSite=Strict/);
  const bearer = await fetch(`${server!.url}/environments`, { headers: { Authorization: `Bearer ${readToken}` } });
  assert.equal(bearer.status, 200);
});
