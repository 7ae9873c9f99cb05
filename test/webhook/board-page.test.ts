// The board's markup from a hand-made inventory: every value that can come from outside (names,
// approvers, errors, workflow IDs, a Temporal UI base URL) lands escaped in text and attributes,
// and an entry whose drift field is set is marked, on the board and in `slipway envs`.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Inventory, InventoryEntry } from '../../common/contract';
import { renderBoardFragment, renderBoardPage } from '../../client/webhook/board-page';
import { renderInventoryText } from '../../client/inventory-view';

const hostile = `<img src=x onerror="alert('x')">&`;

function entry(overrides: Partial<InventoryEntry> = {}): InventoryEntry {
  return {
    service: 'web',
    environment: 'production',
    laneId: 'lane/web/production',
    waitingApproval: [],
    deployed: {
      pipelineId: 'pipeline/web/0123456789abcdef0123456789abcdef01234567',
      commit: '0123456789abcdef0123456789abcdef01234567',
      image: `registry.test/web@sha256:${'a'.repeat(64)}`,
      digest: `sha256:${'a'.repeat(64)}`,
      version: '2026-12-01T00:00:00.000Z',
      since: '2026-12-01T00:00:00.000Z',
      approvedBy: [{ approver: hostile, at: '2026-12-01T00:00:00.000Z', verified: true, channel: 'api' }],
      gated: true,
    },
    marathon: {
      appId: '/production/web',
      found: true,
      instances: 2,
      tasksRunning: 2,
      tasksHealthy: 2,
      cpus: 0.5,
      mem: 256,
    },
    ...overrides,
  };
}

function inventory(e: InventoryEntry): Inventory {
  return {
    generatedAt: '2026-12-01T00:00:10.000Z',
    environments: [
      {
        name: 'production',
        marathonUrl: 'http://marathon.test',
        entries: [e],
        totals: { apps: 1, instances: 2, tasksRunning: 2, tasksHealthy: 2, cpus: 1, mem: 512 },
      },
    ],
    waitingApprovals: [
      {
        workflowId: `pipeline/web/"><script>x</script>`,
        service: 'web',
        environment: 'production',
        startTime: '2026-12-01T00:00:00.000Z',
      },
    ],
    recentFailures: [
      { workflowId: 'pipeline/web/ff', service: 'web', startTime: '2026-12-01T00:00:00.000Z', error: hostile },
    ],
  };
}

const now = Date.parse('2026-12-01T00:01:00.000Z');
const links = { temporalUi: (id: string) => `http://ui.test/"onmouseover="x/${encodeURIComponent(id)}` };

test('values from outside are escaped in text and attributes', () => {
  const html = renderBoardFragment(inventory(entry({ laneError: hostile })), links, now);
  assert.doesNotMatch(html, /<img|<script/);
  assert.doesNotMatch(html, /"onmouseover=/);
  assert.match(html, /approved by &lt;img src=x onerror=&quot;alert\(&#39;x&#39;\)&quot;&gt;&amp; \(verified\)/);
  assert.match(html, /lane unreadable: &lt;img/);
  assert.match(html, /data-workflow-id="pipeline\/web\/&quot;&gt;&lt;script&gt;x&lt;\/script&gt;"/);
  // The API link is the workflow ID URL-encoded, then escaped for the attribute.
  assert.match(html, /href="\/pipelines\/pipeline%2Fweb%2F%22%3E%3Cscript%3Ex%3C%2Fscript%3E"/);
  assert.match(html, /href="http:\/\/ui.test\/&quot;onmouseover=&quot;x\//);
  assert.match(html, /<span class="instances">2\/2 \(2 healthy\)<\/span>/);
  assert.match(html, /<span title="2026-12-01T00:00:00.000Z">1m00s ago<\/span>/);
});

test('the page runs only its own nonce-bearing script and style', () => {
  const page = renderBoardPage('<p>x</p>', 'n0nce', 3000);
  assert.equal((page.match(/<script nonce="n0nce">/g) ?? []).length, 1);
  assert.equal((page.match(/<style nonce="n0nce">/g) ?? []).length, 1);
  assert.match(page, /<meta name="viewport" content="width=device-width,initial-scale=1">/);
  assert.match(page, /setInterval\(refresh,3000\)/);
});

test('an entry with drift set is marked; without it, nothing is', () => {
  const drifted = entry({ drift: { drifted: true, details: ['Marathon runs registry.test/web@sha256:bbbb'] } });
  const html = renderBoardFragment(inventory(drifted), links, now);
  assert.match(html, /<td class="cell drifted"/);
  assert.match(html, /<span class="drift" title="Marathon runs registry.test\/web@sha256:bbbb">drift<\/span>/);
  assert.match(renderInventoryText(inventory(drifted), now), /DRIFT: Marathon runs registry.test\/web@sha256:bbbb/);
  const clean = renderBoardFragment(inventory(entry({ drift: { drifted: false, details: [] } })), links, now);
  assert.doesNotMatch(clean, /class="drift"|drifted/);
  assert.doesNotMatch(renderBoardFragment(inventory(entry()), links, now), /class="drift"/);
});

test('a Marathon that did not answer is named in its column instead of totals', () => {
  const inv = inventory(entry({ marathon: { appId: '/production/web', found: false, error: 'unreachable <x>' } }));
  const env = inv.environments[0]!;
  env.marathonError = 'unreachable <x>';
  env.totals = { apps: 0, instances: 0, tasksRunning: 0, tasksHealthy: 0, cpus: 0, mem: 0 };
  const html = renderBoardFragment(inv, links, now);
  assert.match(
    html,
    /<th scope="col" data-env="production">production<span class="env-error">Marathon unreadable: unreachable &lt;x&gt;<\/span><\/th>/,
  );
  assert.doesNotMatch(html, /0\/0 instances/);
  // Said once for the environment, not again in every cell.
  assert.equal((html.match(/unreachable &lt;x&gt;/g) ?? []).length, 2, 'column header and phone summary');
  assert.match(html, /<span class="instances">Marathon error<\/span>/);
});
