// `slipway webhook`: the GitLab webhook receiver and the status/approval API as its own process.
import type { Command } from 'commander';
import { startWebhookServer } from '../webhook';

export function register(program: Command): void {
  program
    .command('webhook')
    .description('Serve POST /webhooks/gitlab, GET /pipelines[/<id>], approvals, GET /healthz and GET /metrics')
    .option('--port <port>', 'port to listen on', '8787')
    .option(
      '--host <host>',
      'address to bind (0.0.0.0 for GitLab to reach it)',
      process.env.SLIPWAY_WEBHOOK_HOST ?? '127.0.0.1',
    )
    .option(
      '--body-limit <bytes>',
      'largest request body accepted (413 beyond)',
      process.env.SLIPWAY_WEBHOOK_BODY_LIMIT ?? String(1024 * 1024),
    )
    .option('--insecure-no-token', 'accept GitLab deliveries without X-Gitlab-Token (local development only)')
    .addHelpText(
      'after',
      [
        '',
        'Environment: SLIPWAY_WEBHOOK_TOKEN (the GitLab hook secret) and/or SLIPWAY_WEBHOOK_SIGNING_TOKEN (whsec_...,',
        'GitLab 19+ signed webhooks), SLIPWAY_CONFIG_DIR, TEMPORAL_ADDRESS,',
        'SLIPWAY_APPROVAL_KEY and SLIPWAY_APPROVER_TOKEN_<NAME> (or approverTokens in slipway.yaml) for the approval API.',
        'Example:',
        '  SLIPWAY_WEBHOOK_TOKEN=s3cret slipway webhook --port 8787 --host 0.0.0.0',
        '  curl -X POST -H "Authorization: Bearer $ALICE_TOKEN" -H "Content-Type: application/json" \\',
        '    -d \'{"environment":"production","comment":"ship it"}\' http://127.0.0.1:8787/pipelines/pipeline%2Fhello-node%2F<sha>/approvals',
        '',
      ].join('\n'),
    )
    .action(async (opts: { port: string; host: string; bodyLimit: string; insecureNoToken?: boolean }) => {
      const port = Number(opts.port);
      const bodyLimitBytes = Number(opts.bodyLimit);
      if (!Number.isInteger(port) || port < 0 || port > 65535)
        throw new Error(`--port "${opts.port}": expected 0..65535`);
      if (!Number.isInteger(bodyLimitBytes) || bodyLimitBytes < 1024)
        throw new Error(`--body-limit "${opts.bodyLimit}": expected bytes >= 1024`);
      const server = await startWebhookServer({
        port,
        host: opts.host,
        bodyLimitBytes,
        insecureNoToken: opts.insecureNoToken,
      });
      process.stdout.write(`webhook: ${server.url}/webhooks/gitlab   status: ${server.url}/pipelines\n`);
      await new Promise<void>((resolve) => {
        const stop = () => void server.close().then(resolve);
        process.once('SIGINT', stop);
        process.once('SIGTERM', stop);
      });
    });
}
