// `slipway marathon-emulator`: runs the Marathon emulator on its own — a development and test
// stand-in for Marathon, never a replacement for it.
import { readFileSync } from 'node:fs';
import { type Command, InvalidArgumentError, Option } from 'commander';
import { startMarathonEmulator } from '../../dev/marathon-emulator';

function number(name: string, min: number, max = Infinity) {
  return (value: string): number => {
    const n = Number(value);
    if (!Number.isFinite(n) || n < min || n > max)
      throw new InvalidArgumentError(
        `${name} must be a number ${max === Infinity ? `>= ${min}` : `between ${min} and ${max}`}, got "${value}"`,
      );
    return n;
  };
}

function portRange(value: string): [number, number] {
  const m = /^(\d+)-(\d+)$/.exec(value);
  if (!m || Number(m[1]) > Number(m[2]) || Number(m[2]) > 65535)
    throw new InvalidArgumentError(`--agent-ports must be a range like 31000-32000, got "${value}"`);
  return [Number(m[1]), Number(m[2])];
}

/** `uid=public-key.pem`, repeatable: the service accounts of the auth mode. */
function serviceAccount(value: string, previous: Record<string, string> = {}): Record<string, string> {
  const [uid, file] = value.split('=', 2);
  if (!uid || !file) throw new InvalidArgumentError(`--service-account must be uid=public-key.pem, got "${value}"`);
  try {
    return { ...previous, [uid]: readFileSync(file, 'utf8') };
  } catch (err) {
    throw new InvalidArgumentError(`--service-account ${uid}: cannot read ${file}: ${(err as Error).message}`);
  }
}

export function register(program: Command): void {
  program
    .command('marathon-emulator')
    .description(
      'Run the Marathon emulator: a DEVELOPMENT AND TEST STAND-IN for Marathon (not Marathon) that speaks its documented REST API (/v2/apps, /v2/deployments, /v2/events, ...)',
    )
    .option('--port <n>', 'port to listen on (0 = any free port)', number('--port', 0, 65535), 8080)
    .option('--host <address>', 'address to listen on', '127.0.0.1')
    .addOption(
      new Option(
        '--mode <mode>',
        'containers: every task is a real Docker container; simulated: nothing runs, tasks turn healthy after a delay',
      )
        .choices(['containers', 'simulated'])
        .default('containers'),
    )
    .option(
      '--state-file <file>',
      'keep apps and versions in this JSON file (default: in memory only, lost when the emulator stops)',
    )
    .option(
      '--failure-rate <rate>',
      'fault injection: share of API requests answered 503 (0..1)',
      number('--failure-rate', 0, 1),
      0,
    )
    .option('--latency-ms <ms>', 'fault injection: latency added to every API request', number('--latency-ms', 0), 0)
    .option('--stuck-deployments', 'fault injection: deployments never finish', false)
    .option(
      '--time-scale <factor>',
      "multiply apps' grace periods, check intervals and backoff (e.g. 0.1 for fast tests)",
      number('--time-scale', 0.001),
      1,
    )
    .option(
      '--healthy-after-ms <ms>',
      'simulated mode: a task turns healthy this long after it started',
      number('--healthy-after-ms', 0),
      1000,
    )
    .addOption(
      new Option(
        '--api-shape <version>',
        'Marathon to behave as: 1.5 (networks, container.portMappings) or 1.4 (legacy networking fields only; 1.5 fields in requests are dropped as 1.4 drops them)',
      )
        .choices(['1.4', '1.5'])
        .default('1.5'),
    )
    .option('--agents <n>', 'emulated Mesos agents tasks are placed on', number('--agents', 1, 1000), 3)
    .option('--agent-cpus <n>', 'cpus of each agent', number('--agent-cpus', 0.01), 256)
    .option('--agent-mem <mb>', 'memory of each agent, MB', number('--agent-mem', 1), 1_048_576)
    .option('--agent-ports <from-to>', 'host port range each agent offers', portRange, [1025, 65535])
    .option(
      '--service-account <uid=public-key.pem>',
      'DC/OS auth mode: a service account that may log in (repeatable); every API call then needs a token',
      serviceAccount,
    )
    .option('--token-ttl <seconds>', 'auth mode: lifetime of issued tokens', number('--token-ttl', 1), 5 * 86400)
    .option(
      '--no-load-balancer',
      "containers mode: no stand-in for marathon-lb on the deployment groups' ports (HAPROXY_0_PORT)",
    )
    .addHelpText(
      'after',
      [
        '',
        'This is a development stand-in for Marathon, used by `slipway up` and the tests; it is not Marathon.',
        'State lives in memory unless --state-file is given (apps and versions survive a restart; tasks are relaunched).',
        'Containers mode uses the Docker daemon from DOCKER_HOST (or the local socket); containers carry the label',
        'slipway.emulator=<instance> and are removed on scale-down, upgrade, app delete and when the emulator stops.',
        'Simulated mode: an app with env or label SLIPWAY_SIMULATE_UNHEALTHY=1 never turns healthy.',
        'Containers mode also stands in for marathon-lb: each deployment group (label HAPROXY_DEPLOYMENT_GROUP) is served on',
        "127.0.0.1:<HAPROXY_0_PORT>, over the healthy tasks of its apps, with the old app's drained tasks left out (blue/green, canary).",
        'Tasks are placed on the agents only where cpus, mem, host ports and the app constraints fit; the rest waits in GET /v2/queue.',
        'Admin API for tests (not part of Marathon): GET /_emulator/requests, GET|POST /_emulator/faults, POST /_emulator/reset,',
        'POST /_emulator/tasks/lose {appId, state: TASK_LOST|TASK_UNREACHABLE}, POST /_emulator/leader-change, POST /_emulator/auth/revoke.',
        '',
        'Example:',
        '  slipway marathon-emulator --port 8080 --mode simulated --failure-rate 0.2',
        '',
      ].join('\n'),
    )
    .action(
      async (o: {
        port: number;
        host: string;
        mode: 'containers' | 'simulated';
        stateFile?: string;
        failureRate: number;
        latencyMs: number;
        stuckDeployments: boolean;
        timeScale: number;
        healthyAfterMs: number;
        apiShape: '1.4' | '1.5';
        agents: number;
        agentCpus: number;
        agentMem: number;
        agentPorts: [number, number];
        serviceAccount?: Record<string, string>;
        tokenTtl: number;
        loadBalancer: boolean;
      }) => {
        const emulator = await startMarathonEmulator({
          port: o.port,
          host: o.host,
          mode: o.mode,
          stateFile: o.stateFile,
          faults: { failureRate: o.failureRate, latencyMs: o.latencyMs, stuckDeployments: o.stuckDeployments },
          timeScale: o.timeScale,
          simulatedHealthyAfterMs: o.healthyAfterMs,
          apiShape: o.apiShape,
          agents: { count: o.agents, cpus: o.agentCpus, mem: o.agentMem, ports: [o.agentPorts] },
          ...(o.serviceAccount ? { auth: { serviceAccounts: o.serviceAccount, tokenTtlSeconds: o.tokenTtl } } : {}),
          loadBalancer: o.loadBalancer,
        });
        process.stdout.write(
          `Marathon emulator (a development stand-in for Marathon, ${o.mode} mode) at ${emulator.url}\n`,
        );
        process.stdout.write(
          `State: ${o.stateFile ?? 'in memory (lost on exit)'}. Ctrl-C stops it${o.mode === 'containers' ? ' and removes its containers' : ''}.\n`,
        );
        await new Promise<void>((resolve) => {
          const stop = () => void emulator.close().then(resolve);
          process.once('SIGINT', stop);
          process.once('SIGTERM', stop);
        });
      },
    );
}
