// Every `slipway` subcommand, listed by hand: the CLI runs from TypeScript sources (tsx), from
// dist/ and from an installed package, and a static list works the same in all three, where a scan
// of this folder would look for .ts files that a build does not ship.
import type { Command } from 'commander';
import * as approve from './approve';
import * as audit from './audit';
import * as cancel from './cancel';
import * as demo from './demo';
import * as drift from './drift';
import * as envs from './envs';
import * as freezes from './freezes';
import * as list from './list';
import * as marathonEmulator from './marathon-emulator';
import * as metrics from './metrics';
import * as overrideFreeze from './override-freeze';
import * as promote from './promote';
import * as reject from './reject';
import * as render from './render';
import * as rerun from './rerun';
import * as rollback from './rollback';
import * as run from './run';
import * as status from './status';
import * as up from './up';
import * as watch from './watch';
import * as webhook from './webhook';
import * as worker from './worker';

export interface CommandModule {
  register(program: Command): void;
}

/** In the order `slipway --help` lists them. */
export const commands: CommandModule[] = [
  approve,
  audit,
  cancel,
  demo,
  drift,
  envs,
  freezes,
  list,
  marathonEmulator,
  metrics,
  overrideFreeze,
  promote,
  reject,
  render,
  rerun,
  rollback,
  run,
  status,
  up,
  watch,
  webhook,
  worker,
];
