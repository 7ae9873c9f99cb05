// The board's HTML: environments × services (what runs where: commit, since, approved by, live
// instances, a drift marker), what waits for approval (linked to the Temporal UI and the API) and
// recent failures. Rendered on the server from the inventory; the page's few lines of script only
// fetch the same fragment again every few seconds and swap it in. Every value that comes from
// outside (service and environment names, commits, approvers, errors, URLs) goes through `esc`,
// in text and in attributes alike: rendering is the only place that builds markup.
import type { EnvironmentInventory, Inventory, InventoryEntry, InventoryPipelineRef } from '../../common/contract';
import { approvedText, instancesText, notesOf, shortDigest, shortSha } from '../inventory-view';
import { formatDuration } from '../status-view';

const entities: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

/** Escapes text for HTML content and quoted attribute values. */
export function esc(value: unknown): string {
  return String(value ?? '').replace(/[&<>"']/g, (c) => entities[c] as string);
}

export interface BoardLinks {
  /** The Temporal UI page of a workflow, when a UI base URL is configured. */
  temporalUi(workflowId: string): string | undefined;
}

const ago = (iso: string | undefined, now: number) =>
  iso ? `<span title="${esc(iso)}">${esc(formatDuration(now - Date.parse(iso)))} ago</span>` : '';

function cell(entry: InventoryEntry | undefined, env: EnvironmentInventory, now: number): string {
  if (!entry) return '<td></td>';
  const d = entry.deployed;
  const classes = ['cell'];
  if (entry.drift?.drifted) classes.push('drifted');
  if (entry.laneError || (entry.marathon.error && !env.marathonError)) classes.push('error');
  if (entry.inFlight) classes.push('busy');
  const lines = d
    ? [
        `<code class="sha" title="${esc(d.commit)}">${esc(shortSha(d.commit))}</code>`,
        `<span class="since">${ago(d.since, now)}</span>`,
        `<span class="approved">${esc(d.approvedBy.length ? `approved by ${approvedText(entry)}` : approvedText(entry))}</span>`,
        `<span class="digest" title="${esc(d.image)}">${esc(shortDigest(d.digest))}</span>`,
      ]
    : ['<span class="none">not deployed</span>'];
  lines.push(`<span class="instances">${esc(instancesText(entry))}</span>`);
  if (entry.drift?.drifted)
    lines.push(`<span class="drift" title="${esc(entry.drift.details.join('\n'))}">drift</span>`);
  for (const note of notesOf(entry, env.marathonError).filter((n) => !n.startsWith('DRIFT')))
    lines.push(`<span class="note">${esc(note)}</span>`);
  return `<td class="${classes.join(' ')}" data-env="${esc(env.name)}" data-service="${esc(entry.service)}"><span class="label">${esc(env.name)}</span>${lines.join('')}</td>`;
}

function grid(inventory: Inventory, now: number): string {
  const envs = inventory.environments;
  const services = [...new Set(envs.flatMap((e) => e.entries.map((x) => x.service)))].sort();
  const head = envs
    .map((e) => {
      const t = e.totals;
      const totals = e.marathonError
        ? `<span class="env-error">Marathon unreadable: ${esc(e.marathonError)}</span>`
        : `<span class="totals">${esc(`${t.tasksRunning}/${t.instances} instances · ${t.cpus} cpus · ${t.mem} MiB`)}</span>`;
      return `<th scope="col" data-env="${esc(e.name)}">${esc(e.name)}${totals}</th>`;
    })
    .join('');
  const rows = services
    .map((s) => {
      const cells = envs.map((e) =>
        cell(
          e.entries.find((x) => x.service === s),
          e,
          now,
        ),
      );
      return `<tr data-service="${esc(s)}"><th scope="row">${esc(s)}</th>${cells.join('')}</tr>`;
    })
    .join('');
  const summary = envs
    .map((e) => {
      const t = e.totals;
      const text = e.marathonError
        ? `Marathon unreadable: ${e.marathonError}`
        : `${t.tasksRunning}/${t.instances} instances · ${t.cpus} cpus · ${t.mem} MiB`;
      return `<li data-env="${esc(e.name)}"><strong>${esc(e.name)}</strong> ${esc(text)}</li>`;
    })
    .join('');
  return `<ul class="env-totals">${summary}</ul><table class="grid"><thead><tr><th scope="col">service</th>${head}</tr></thead><tbody>${rows}</tbody></table>`;
}

function pipelineList(
  title: string,
  id: string,
  refs: InventoryPipelineRef[],
  links: BoardLinks,
  now: number,
  empty: string,
): string {
  const items = refs.map((p) => {
    const ui = links.temporalUi(p.workflowId);
    const api = `/pipelines/${encodeURIComponent(p.workflowId)}`;
    return (
      `<li data-workflow-id="${esc(p.workflowId)}">` +
      `<strong>${esc(p.service ?? p.workflowId)}</strong> <code>${esc(shortSha(p.commit))}</code>` +
      (p.environment ? ` → <em>${esc(p.environment)}</em>` : '') +
      ` <span class="since">${ago(p.closeTime ?? p.startTime, now)}</span>` +
      (p.error ? `<span class="note">${esc(p.error)}</span>` : '') +
      '<span class="links">' +
      (ui ? `<a class="ui-link" href="${esc(ui)}" target="_blank" rel="noopener noreferrer">Temporal UI</a> ` : '') +
      `<a class="api-link" href="${esc(api)}">status JSON</a></span></li>`
    );
  });
  return `<section id="${id}"><h2>${esc(title)} (${refs.length})</h2>${items.length ? `<ul>${items.join('')}</ul>` : `<p class="none">${esc(empty)}</p>`}</section>`;
}

/** The part of the page that is fetched again and swapped in every few seconds. */
export function renderBoardFragment(inventory: Inventory, links: BoardLinks, now = Date.now()): string {
  return (
    grid(inventory, now) +
    pipelineList('Waiting for approval', 'waiting', inventory.waitingApprovals, links, now, 'nothing waits') +
    pipelineList('Recent failures', 'failures', inventory.recentFailures, links, now, 'no failed pipelines') +
    `<p class="generated">as of <time datetime="${esc(inventory.generatedAt)}">${esc(inventory.generatedAt)}</time></p>`
  );
}

const style = `
body{font:14px/1.4 system-ui,sans-serif;margin:0;padding:12px;color:#1b1f24;background:#f6f7f9}
h1{font-size:18px;margin:0 0 8px}h2{font-size:15px;margin:16px 0 6px}
#state{font-size:12px;color:#57606a;margin-left:8px}#state.stale{color:#b42318}
.scroll{overflow-x:auto}
table.grid{border-collapse:collapse;background:#fff;min-width:100%}
.grid th,.grid td{border:1px solid #d0d7de;padding:6px 8px;text-align:left;vertical-align:top}
.grid thead th{background:#eef1f4}
.grid td span,.grid th span{display:block}
.totals{font-weight:normal;font-size:12px;color:#57606a}
.env-error{font-weight:normal;font-size:12px;color:#b42318}
code{font:12px ui-monospace,monospace;background:#eef1f4;padding:1px 4px;border-radius:3px}
.since,.digest,.approved,.instances{font-size:12px;color:#57606a}
.note{font-size:12px;color:#9a6700}
.label{display:none!important;font-weight:600}
td.error{background:#fff1f0}td.busy{background:#fff8e1}td.drifted{outline:2px solid #b42318}
.drift{color:#fff;background:#b42318;border-radius:3px;padding:0 4px;width:max-content;font-size:12px}
.none{color:#8c959f}
ul{background:#fff;border:1px solid #d0d7de;margin:0;padding:0;list-style:none}
li{padding:6px 8px;border-top:1px solid #eef1f4}li:first-child{border-top:0}
li .note,li .links{display:block}a{color:#0969da}
.generated{font-size:12px;color:#8c959f}
ul.env-totals{display:none;margin-bottom:10px;font-size:13px}
@media (max-width:700px){
 ul.env-totals{display:block}
 .grid thead{display:none}.grid,.grid tbody,.grid tr,.grid th,.grid td{display:block;width:auto}
 .grid tr{margin-bottom:10px;border:1px solid #d0d7de;background:#fff}
 .grid th[scope=row]{background:#eef1f4}.grid td{border:0;border-top:1px solid #eef1f4}
 .label{display:block!important}
}`;

/**
 * Fetches the fragment every `refreshMs` and swaps it in; says when it last succeeded and when
 * the server stops answering (the grid then stays as it was, marked stale).
 */
const script = (refreshMs: number) => `
(function(){
  var board=document.getElementById('board'),state=document.getElementById('state');
  function refresh(){
    fetch('/board?fragment=1',{credentials:'same-origin',cache:'no-store'}).then(function(r){
      if(!r.ok)throw new Error('HTTP '+r.status);return r.text();
    }).then(function(html){
      board.innerHTML=html;state.textContent='live, updated '+new Date().toLocaleTimeString();state.className='';
    }).catch(function(e){state.textContent='not updating: '+e.message;state.className='stale';});
  }
  setInterval(refresh,${refreshMs});
})();`;

export function renderBoardPage(fragment: string, nonce: string, refreshMs: number): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width,initial-scale=1">
<title>Slipway board</title>
<style nonce="${esc(nonce)}">${style}</style></head>
<body><h1>Slipway: what runs where<span id="state">live</span></h1>
<main id="board">${fragment}</main>
<script nonce="${esc(nonce)}">${script(refreshMs)}</script>
</body></html>`;
}

/** Asked for when a read token is set and the browser has not shown it yet. */
export function renderTokenPage(nonce: string, wrong: boolean): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width,initial-scale=1">
<title>Slipway board: read token</title>
<style nonce="${esc(nonce)}">body{font:15px system-ui,sans-serif;padding:16px;max-width:28em}input{font:inherit;width:100%;margin:8px 0}</style></head>
<body><h1>Slipway board</h1>
<p>${wrong ? 'That token is not the read token.' : 'Reading needs the read token (SLIPWAY_READ_TOKEN).'}</p>
<form method="get" action="/board"><label>Read token <input type="password" name="token" autocomplete="off"></label>
<button type="submit">Open the board</button></form></body></html>`;
}
