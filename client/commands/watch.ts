// `slipway watch`: follow a pipeline stage by stage until it ends. On a terminal the stage lines
// are redrawn in place; otherwise (CI logs, pipes) a line is printed only when a stage changes.
// Exits 0 when the pipeline succeeded, 1 when it ended any other way.
import type { Command } from 'commander';
import { finalPipelineStates, type PipelineStatus } from '../../common/contract';
import { fail, uiLink, withClient } from '../cli-support';
import { PipelineNotFound, pipelineStatus } from '../pipelines';
import { renderStages, stagesOf } from '../status-view';

export interface WatchOptions {
  intervalMs: number;
  tty: boolean;
  out: NodeJS.WritableStream;
  /** Give up after this long (default: never). */
  timeoutMs?: number;
}

export async function watchPipeline(read: () => Promise<PipelineStatus>, opts: WatchOptions): Promise<PipelineStatus> {
  const deadline = opts.timeoutMs ? Date.now() + opts.timeoutMs : Infinity;
  let drawn = 0;
  let last = new Map<string, string>();
  let lastState = '';
  let misses = 0;
  for (;;) {
    let status: PipelineStatus;
    try {
      status = await read();
      misses = 0;
    } catch (err) {
      // A worker restart makes queries fail for a moment; keep watching, but not forever.
      if (err instanceof PipelineNotFound || ++misses >= 30) throw err;
      await new Promise((r) => setTimeout(r, opts.intervalMs));
      continue;
    }
    if (opts.tty) {
      const lines = renderStages(status);
      opts.out.write((drawn ? `\x1b[${drawn}A\x1b[J` : '') + lines.join('\n') + '\n');
      drawn = lines.length;
    } else {
      const time = new Date().toISOString().slice(11, 19);
      if (status.state !== lastState) opts.out.write(`${time} pipeline ${status.state}\n`);
      lastState = status.state;
      const now = new Map<string, string>();
      for (const s of stagesOf(status)) {
        // Timers tick in the detail; print a line when the state (or the reason it waits) changes.
        // A deploy that turns to verifying gets its own line ("verifying, 10 min left").
        const running = s.detail.startsWith('verifying') ? 'verifying' : '';
        const key = `${s.state}|${s.state === 'running' ? running : s.detail.replace(/\d+[smhd]\d*[smh]? left/, '')}`;
        now.set(s.name, key);
        if (last.get(s.name) !== key && !(s.state === 'pending' && !last.has(s.name) && !s.detail)) {
          opts.out.write(`${time}   ${s.name}: ${s.state}${s.detail ? ` — ${s.detail}` : ''}\n`);
        }
      }
      last = now;
    }
    if (finalPipelineStates.includes(status.state)) return status;
    if (Date.now() > deadline)
      throw new Error(`still ${status.state} after ${Math.round((opts.timeoutMs ?? 0) / 1000)} s`);
    await new Promise((r) => setTimeout(r, opts.intervalMs));
  }
}

export function register(program: Command): void {
  program
    .command('watch')
    .description('Follow a pipeline live, stage by stage, until it ends (exit 0 only if it succeeded)')
    .argument('<workflowId>', 'pipeline workflow ID: pipeline/<service>/<commit>')
    .option('--interval <seconds>', 'poll interval', '1')
    .option('--timeout <seconds>', 'give up after this long')
    .option('--plain', 'print changes as lines even on a terminal')
    .addHelpText('after', '\nExample:\n  slipway watch pipeline/hello-node/3f2c9e1d0b7a4c5e8f90123456789abcdef01234\n')
    .action(async (workflowId: string, opts: { interval: string; timeout?: string; plain?: boolean }) => {
      const link = uiLink(workflowId);
      if (link) process.stdout.write(`Temporal UI: ${link}\n`);
      const final = await withClient((client) =>
        watchPipeline(() => pipelineStatus(client, workflowId), {
          intervalMs: Math.max(100, Number(opts.interval) * 1000),
          tty: Boolean(process.stdout.isTTY) && !opts.plain,
          out: process.stdout,
          timeoutMs: opts.timeout ? Number(opts.timeout) * 1000 : undefined,
        }),
      );
      if (final.state !== 'succeeded') fail(`pipeline ended ${final.state}${final.error ? `: ${final.error}` : ''}`);
    });
}
