// The production Temporal server and its schema tool, built from Temporal's Go modules (served by
// the Go module proxy) once per machine and cached in the state folder, keyed by version:
// .slipway/tools/temporal-server-<version>/{temporal-server,temporal-sql-tool}. A cold build takes
// ~4 min on 2 cores (most of it compiling; the module download is ~1 min), so it runs `nice`d and
// into a scratch folder that is renamed into place only when both binaries exist.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, renameSync, rmSync } from 'node:fs';
import path from 'node:path';
import { logDir, stateDir } from '../common/paths';
import { startProcess } from './process';

/** The server release Slipway runs against (`temporal-server --version` prints it). */
export const temporalServerVersion = process.env.SLIPWAY_TEMPORAL_SERVER_VERSION ?? '1.32.2';
/**
 * The Go toolchain v1.32.x asks for (its go.mod says go >= 1.26.10; `GOTOOLCHAIN=auto` picks
 * go1.26.11). Only used when the machine's go predates toolchain switching (Debian bookworm's
 * golang-go is 1.19): then this toolchain is fetched as a module through the proxy, as
 * `GOTOOLCHAIN=auto` itself does.
 */
const bootstrapToolchain = 'go1.26.11';

export interface TemporalServerBinaries {
  version: string;
  server: string;
  sqlTool: string;
}

export function temporalServerDir(version = temporalServerVersion): string {
  return path.join(stateDir, 'tools', `temporal-server-${version}`);
}

function run(command: string, args: string[], env?: NodeJS.ProcessEnv): string {
  return execFileSync(command, args, { encoding: 'utf8', env: env ?? process.env, stdio: ['ignore', 'pipe', 'pipe'] });
}

function onPath(name: string): string | undefined {
  try {
    return run('sh', ['-c', `command -v ${name}`]).trim() || undefined;
  } catch {
    return undefined;
  }
}

/** Minor version of a go binary (`go version go1.19.8 linux/amd64` -> 19). */
function goMinor(go: string): number {
  const match = /go1\.(\d+)/.exec(run(go, ['version']));
  return match ? Number(match[1]) : 0;
}

/** A go command: PATH, the official tarball's place, else Debian's golang-go (root on Debian only). */
function findGo(): string {
  const found = onPath('go') ?? (existsSync('/usr/local/go/bin/go') ? '/usr/local/go/bin/go' : undefined);
  if (found) return found;
  if (process.getuid?.() !== 0 || !onPath('apt-get')) {
    throw new Error(
      'building the Temporal server needs Go: install it (Debian: `sudo apt-get install golang-go`, or the tarball from go.dev into /usr/local/go) and retry',
    );
  }
  console.error('[temporal-server] no go found: installing Debian golang-go');
  run('apt-get', ['update', '-qq']);
  run('apt-get', ['install', '-y', '-qq', '--no-install-recommends', 'golang-go'], {
    ...process.env,
    DEBIAN_FRONTEND: 'noninteractive',
  });
  return '/usr/bin/go';
}

/**
 * A go that can build the server. Go >= 1.21 switches toolchains by itself (GOTOOLCHAIN=auto);
 * an older one downloads the toolchain module and we run its go directly.
 */
function goForBuild(): { go: string; env: NodeJS.ProcessEnv } {
  const go = findGo();
  const env = { ...process.env, GOTOOLCHAIN: 'auto', GOFLAGS: '-modcacherw' };
  if (goMinor(go) >= 21) return { go, env };
  const module = `golang.org/toolchain@v0.0.1-${bootstrapToolchain}.linux-${process.arch === 'arm64' ? 'arm64' : 'amd64'}`;
  console.error(`[temporal-server] ${go} predates toolchain switching: fetching ${module}`);
  const info = JSON.parse(run(go, ['mod', 'download', '-json', module], env)) as { Dir: string };
  const toolchainGo = path.join(info.Dir, 'bin', 'go');
  // Module zips carry no exec bits; GOTOOLCHAIN=auto restores them the same way.
  run('sh', ['-c', `chmod +x "${info.Dir}"/bin/* "${info.Dir}"/pkg/tool/*/*`]);
  return { go: toolchainGo, env: { ...env, GOTOOLCHAIN: 'local' } };
}

/** The cached binaries, building them first when this version was never built here. */
export async function ensureTemporalServerBinaries(version = temporalServerVersion): Promise<TemporalServerBinaries> {
  const dir = temporalServerDir(version);
  const binaries = {
    version,
    server: path.join(dir, 'temporal-server'),
    sqlTool: path.join(dir, 'temporal-sql-tool'),
  };
  if (existsSync(binaries.server) && existsSync(binaries.sqlTool)) return binaries;

  const { go, env } = goForBuild();
  const scratch = `${dir}.building-${process.pid}`;
  rmSync(scratch, { recursive: true, force: true });
  mkdirSync(scratch, { recursive: true });
  const started = Date.now();
  const name = `temporal-server-build-${version}`;
  console.error(
    `[temporal-server] building Temporal server v${version} and its SQL tool once into ${dir} ` +
      `(~4 min on 2 cores; log ${path.join(logDir, name + '.log')})`,
  );
  const build = startProcess({
    name,
    command: 'nice',
    args: [
      '-n',
      '10',
      go,
      'install',
      `go.temporal.io/server/cmd/server@v${version}`,
      `go.temporal.io/server/cmd/tools/sql@v${version}`,
    ],
    env: { ...env, GOBIN: scratch },
    logDir,
  });
  const code = await build.exited;
  if (code !== 0) {
    rmSync(scratch, { recursive: true, force: true });
    throw new Error(
      `building Temporal server v${version} failed (exit ${code}); see ${build.logFile} ` +
        '(it needs the Go module proxy and ~2 GB of free disk for the module and build caches)',
    );
  }
  renameSync(path.join(scratch, 'server'), path.join(scratch, 'temporal-server'));
  renameSync(path.join(scratch, 'sql'), path.join(scratch, 'temporal-sql-tool'));
  if (!existsSync(binaries.server)) {
    rmSync(dir, { recursive: true, force: true });
    renameSync(scratch, dir);
  } else {
    rmSync(scratch, { recursive: true, force: true }); // a concurrent build finished first
  }
  console.error(`[temporal-server] built in ${Math.round((Date.now() - started) / 1000)} s`);
  return binaries;
}
