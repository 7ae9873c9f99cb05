// `slipway rerun`: see ../promotion-command.ts.
import type { Command } from 'commander';
import { registerRerun } from '../promotion-command';

export function register(program: Command): void {
  registerRerun(program);
}
