// `slipway approve`: see ../decision-command.ts.
import type { Command } from 'commander';
import { registerDecision } from '../decision-command';

export function register(program: Command): void {
  registerDecision(program, 'approve');
}
