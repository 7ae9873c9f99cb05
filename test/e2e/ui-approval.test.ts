// An operator approves production in the Temporal Web UI, in a real browser: Debian's chromium
// driven by playwright-core, against the harness's Temporal dev server and its embedded UI. A real
// pipeline (build worker + Docker + registry, deploys to the Marathon emulator in simulated mode)
// waits for approval; the test reads what the UI shows (the current-details Markdown: which
// environment waits for whom), sends the `approve` Signal through the UI's "Send a Signal" form,
// and checks through the `status` query that production became healthy and the pipeline ended.
// Screenshots of every step go to test-results/ui-approval/ (printed on failure).
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, rmSync } from 'node:fs';
import path from 'node:path';
import { isDeepStrictEqual } from 'node:util';
import { after, before, test } from 'node:test';
import { chromium, type Browser, type Page } from 'playwright-core';
import { startPipeline } from '../../client/pipelines';
import { projectRoot } from '../../common/paths';
import type { PipelineStatus } from '../../common/contract';
import { statusQuery } from '../../common/contract';
import { assertDeliveredEverywhere } from '../chaos/driver';
import { requireEnv } from '../helpers/env';
import { headCommit, startStack, type Stack } from '../helpers/stack';
import { until } from '../helpers/wait';

const chromiumPath = '/usr/bin/chromium';
const shots = path.join(projectRoot, 'test-results', 'ui-approval');
const payload = { environment: 'production', approver: 'alice', comment: 'ship it' };

let stack: Stack | undefined;
let browser: Browser | undefined;
let workflowId: string | undefined;

before(() => {
  // Fail, never skip: a green run must mean a browser really clicked.
  if (!existsSync(chromiumPath))
    throw new Error(`${chromiumPath} is missing: run \`bash dev/setup.sh --for-tests\` (installs Debian's chromium)`);
  rmSync(shots, { recursive: true, force: true });
  mkdirSync(shots, { recursive: true });
});

after(async () => {
  await browser?.close();
  if (stack) {
    const query = `(WorkflowId = '${workflowId ?? ''}' OR WorkflowId STARTS_WITH 'lane/${stack.service}/') AND ExecutionStatus = 'Running'`;
    for await (const info of stack.client.workflow.list({ query }))
      await stack.client.workflow
        .getHandle(info.workflowId)
        .terminate('test over')
        .catch(() => undefined);
    await stack.stop();
  }
});

/** One UI step: a screenshot after it, and on failure one that the error message points at. */
async function step<T>(page: Page, name: string, action: () => Promise<T>): Promise<T> {
  try {
    const result = await action();
    await page.screenshot({ path: path.join(shots, `${name}.png`), fullPage: true });
    return result;
  } catch (err) {
    const shot = path.join(shots, `FAILED-${name}.png`);
    await page.screenshot({ path: shot, fullPage: true }).catch(() => undefined);
    throw new Error(`UI step "${name}" failed (screenshot: ${shot}, page: ${page.url()}): ${(err as Error).message}`, {
      cause: err,
    });
  }
}

/**
 * The UI renders current details (Markdown) inside an iframe of its own: the text of whichever
 * frame holds the pipeline's details.
 */
async function currentDetails(page: Page): Promise<string | undefined> {
  for (const frame of page.frames()) {
    if (frame === page.mainFrame()) continue;
    const text = await frame
      .locator('body')
      .innerText({ timeout: 2000 })
      .catch(() => '');
    if (text.includes('waiting-approval')) return text;
  }
  return undefined;
}

test(
  'an operator approves production in the Temporal Web UI; the pipeline goes on and completes',
  { timeout: 12 * 60_000 },
  async () => {
    const uiBase = requireEnv('SLIPWAY_TEST_TEMPORAL_UI');
    stack = await startStack({ marathonMode: 'simulated', example: 'hello-node' });
    stack.startWorker('deploy,build');
    const client = stack.client;
    const commit = headCommit(stack.repoDir);
    const started = Date.now();
    ({ workflowId } = await startPipeline(client, {
      service: stack.service,
      commit,
      ref: 'refs/heads/main',
      trigger: { kind: 'manual', user: 'carol' },
    }));
    const id = workflowId;
    const status = () => client.workflow.getHandle(id).query(statusQuery);

    // Build (real Docker build and push), test and integration, then the approval gate.
    const waiting = await until('production to wait for approval', 8 * 60_000, async () => {
      const s = await status();
      if (['failed', 'cancelled', 'rejected'].includes(s.state))
        throw new Error(`pipeline ended ${s.state}: ${s.error}`);
      return s.environments.find((e) => e.name === 'production')?.state === 'waiting-approval' ? s : undefined;
    }).catch(async (err: Error) => {
      throw new Error(`${err.message}\nlast status: ${JSON.stringify(await status().catch(() => undefined))}`);
    });
    assert.equal(waiting.state, 'waiting-approval');
    console.log(
      `[figure] ui-approval: pipeline reached the production gate in ${((Date.now() - started) / 1000).toFixed(1)} s`,
    );

    browser = await chromium.launch({ executablePath: chromiumPath });
    const page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
    page.setDefaultTimeout(30_000);
    const pageUrl = `${uiBase}/namespaces/default/workflows/${encodeURIComponent(id)}`;
    const uiStarted = Date.now();

    await step(page, '01-workflow-page', async () => {
      await page.goto(pageUrl);
      await page.getByRole('heading', { name: id }).waitFor();
      await page
        .getByRole('status')
        .filter({ hasText: /running/i })
        .first()
        .waitFor();
    });

    // What waits for whom, as the UI shows it (the Markdown the workflow sets with setCurrentDetails).
    const details = await step(page, '02-current-details', async () => {
      await page.getByRole('tab', { name: 'User Metadata' }).click();
      return await until('the current details to show in the UI', 60_000, () => currentDetails(page));
    });
    assert.match(details, /Waiting for approval into production/);
    assert.match(details, /Approvers: alice, bob/);
    assert.match(details, new RegExp(`Would change \\S*${stack.service}\\S* to \\S*@sha256:[0-9a-f]{64}`));
    assert.match(details, /test\s+\S*\s*healthy/);

    const dialog = page.getByRole('dialog', { name: 'Send a Signal' });
    await step(page, '03-signal-list', async () => {
      await page.getByRole('button', { name: 'More Actions' }).click();
      await page.getByRole('menuitem', { name: 'Send a Signal' }).click();
      await dialog.waitFor();
      // The signal picker lists the workflow's signals with their descriptions (from the worker).
      await dialog.getByTestId('signal-select-button').click();
      const approve = dialog.getByRole('option').filter({ has: page.getByText('approve', { exact: true }) });
      await approve.waitFor();
      assert.match(await approve.innerText(), /"environment":"production","approver":"alice"/);
      await dialog
        .getByRole('option')
        .filter({ has: page.getByText('reject', { exact: true }) })
        .waitFor();
    });

    await step(page, '04-signal-form', async () => {
      await dialog
        .getByRole('option')
        .filter({ has: page.getByText('approve', { exact: true }) })
        .click();
      const data = dialog.getByRole('textbox', { name: 'Data' });
      await data.click();
      // insertText, not typing: the editor would auto-close brackets and quotes as they are typed.
      await page.keyboard.insertText(JSON.stringify(payload));
      // The editor reformats the JSON when it loses focus; let that happen before aiming at Submit.
      await data.blur();
      await until('the form to hold the payload', 10_000, async () => {
        const text = await data.innerText();
        return isDeepStrictEqual(JSON.parse(text), payload) ? text : undefined;
      });
      await page.waitForTimeout(300);
      await dialog.screenshot({ path: path.join(shots, 'signal-form-dialog.png') });
    });

    await step(page, '05-signal-sent', async () => {
      await dialog.getByRole('button', { name: 'Submit' }).click();
      await dialog.waitFor({ state: 'hidden' });
    });

    // A form that only looked submitted would leave the gate waiting: fail fast with the status.
    await until('the approval to be recorded', 60_000, async () => {
      const s = await status();
      return s.decisions.some((d) => d.environment === 'production' && d.accepted) ? s : undefined;
    }).catch(async (err: Error) => {
      throw new Error(`${err.message}\nstatus: ${JSON.stringify(await status().catch(() => undefined))}`);
    });
    const done = await until('production to be healthy and the pipeline to end', 5 * 60_000, async () => {
      const s = await status();
      return s.state === 'succeeded' || s.state === 'failed' ? s : undefined;
    });
    console.log(
      `[figure] ui-approval: browser steps + deploy to production ${((Date.now() - uiStarted) / 1000).toFixed(1)} s`,
    );
    assertDeliveredEverywhere(done);
    const decision = done.decisions.find((d) => d.environment === 'production');
    assert.ok(decision, JSON.stringify(done.decisions));
    assert.deepEqual(
      { kind: decision.kind, approver: decision.approver, comment: decision.comment, channel: decision.channel },
      { kind: 'approve', approver: 'alice', comment: 'ship it', channel: 'signal' },
    );
    assert.equal(decision.accepted, true);
    assert.equal(decision.verified, false, 'a UI approval is self-declared, never verified');
    const description = await client.workflow.getHandle(id).describe();
    assert.equal(description.status.name, 'COMPLETED');
    const result = (await client.workflow.getHandle(id).result()) as PipelineStatus;
    assert.equal(result.state, 'succeeded');

    // The history holds exactly one approval signal, the one the form sent, with the typed payload.
    const history = await client.workflow.getHandle(id).fetchHistory();
    const signals = (history.events ?? [])
      .map((e) => e.workflowExecutionSignaledEventAttributes)
      .filter((a) => a?.signalName === 'approve');
    assert.equal(signals.length, 1);
    const sent = signals[0]?.input?.payloads?.[0]?.data;
    assert.deepEqual(JSON.parse(Buffer.from(sent ?? []).toString('utf8')), payload);

    // And the UI shows the run completed.
    await step(page, '06-completed', async () => {
      await page.goto(pageUrl);
      await page
        .getByRole('status')
        .filter({ hasText: /completed/i })
        .first()
        .waitFor();
    });
  },
);
