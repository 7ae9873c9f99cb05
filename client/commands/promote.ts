// `slipway promote`: see ../promotion-command.ts.
import type { Command } from 'commander';
import { registerPromote } from '../promotion-command';

export function register(program: Command): void {
  registerPromote(program);
}
