// Starting the pipelines that deploy without building, shared by the CLI, the HTTP API and other
// commands (`slipway drift --fix` redeploys the running commit through startPromotion):
// - startPromotion: a deliveryPipeline whose input carries the promotion; the workers find the
//   digest that commit's build pushed and verify it in the registry — nothing here is trusted;
// - startRerun: a rejected or expired pipeline's commit, promoted to the environments it never reached;
// - startCommitRollback: rollbackEnvironment back to the version that ran a commit.
import type { Client } from '@temporalio/client';
import {
  finalPipelineStates,
  promotionWorkflowId,
  taskQueues,
  type Promotion,
  type PipelineInput,
} from '../common/contract';
import { CommitAttribute, ServiceAttribute, StateAttribute } from '../common/search-attributes';
import { deliveryPipeline, rollbackEnvironment } from '../workflows';
import { pipelineStatus, PipelineNotFound } from './pipelines';

/** A request that cannot be started as asked: the message says what was wrong and what was expected. */
export class RequestRefused extends Error {
  override name = 'RequestRefused';
}

export interface PromotionRequest {
  service: string;
  /** The full commit SHA whose build to promote. */
  commit: string;
  /** The environment to reach. */
  to: string;
  requestedBy: string;
  reason?: string;
  /** Deploy `to` only (a redeploy), not the chain's earlier environments the commit never ran in. */
  only?: boolean;
  /** Deploy even over a newer pipeline's image (the lanes refuse that otherwise). */
  allowOlder?: boolean;
  /** The pipeline whose build to reuse; default pipeline/<service>/<commit>. */
  from?: string;
  kind?: Promotion['kind'];
}

const name = /^[a-z0-9][a-z0-9._-]{0,99}$/i;

function checkNames(fields: Record<string, string>): void {
  for (const [field, value] of Object.entries(fields))
    if (!name.test(value)) throw new RequestRefused(`${field} "${value}": expected a name of letters, digits, . _ -`);
}

function checkCommit(commit: string): string {
  if (!/^([0-9a-f]{40}|[0-9a-f]{64})$/i.test(commit))
    throw new RequestRefused(`commit "${commit}": expected the full commit SHA (40 hex characters)`);
  return commit.toLowerCase();
}

/** A request ID for workflow IDs: the moment, readable and sortable. */
const requestStamp = () => new Date().toISOString().replace(/[:.]/g, '-');

/** Starts a promotion pipeline; its ID is promotion/<service>/<commit>/<to>/<moment>. */
export async function startPromotion(client: Client, req: PromotionRequest): Promise<{ workflowId: string }> {
  checkNames({ service: req.service, environment: req.to });
  const commit = checkCommit(req.commit);
  const workflowId = promotionWorkflowId(req.service, commit, req.to, requestStamp());
  const promotion: Promotion = {
    to: req.to,
    requestedBy: req.requestedBy,
    ...(req.from ? { from: req.from } : {}),
    ...(req.reason ? { reason: req.reason } : {}),
    ...(req.only ? { only: true } : {}),
    ...(req.allowOlder ? { allowOlder: true } : {}),
    kind: req.kind ?? 'promote',
  };
  const input: PipelineInput = {
    service: req.service,
    commit,
    trigger: { kind: 'manual', user: req.requestedBy },
    promotion,
  };
  await client.workflow.start(deliveryPipeline, {
    taskQueue: taskQueues.deploy,
    workflowId,
    args: [input],
    workflowIdConflictPolicy: 'FAIL',
    typedSearchAttributes: [
      { key: ServiceAttribute, value: req.service },
      { key: CommitAttribute, value: commit },
      { key: StateAttribute, value: 'planning' },
    ],
    staticSummary: `${req.service} @ ${commit.slice(0, 12)} → ${req.to} (${promotion.kind}, no build)`,
  });
  return { workflowId };
}

const rerunnable = ['rejected', 'approval-expired'];

/**
 * Promotes a rejected or expired pipeline's commit to the environments it did not reach (the
 * chain up to its last one; those the commit ran in are skipped), reusing its build.
 */
export async function startRerun(
  client: Client,
  pipelineId: string,
  opts: { requestedBy: string; reason?: string; allowOlder?: boolean },
): Promise<{ workflowId: string; to: string }> {
  let status;
  try {
    status = await pipelineStatus(client, pipelineId);
  } catch (err) {
    if (err instanceof PipelineNotFound) throw new RequestRefused(err.message);
    throw err;
  }
  if (!finalPipelineStates.includes(status.state) || !rerunnable.includes(status.state))
    throw new RequestRefused(`${pipelineId} is ${status.state}: only a rejected or approval-expired pipeline is rerun`);
  const last = status.environments.at(-1);
  if (!last || last.state === 'healthy') throw new RequestRefused(`${pipelineId} reached every environment it planned`);
  // A rerun of a promotion reuses the same build as it did.
  const from = status.promotion ? status.promotion.pipelineId : pipelineId;
  const started = await startPromotion(client, {
    service: status.service,
    commit: status.commit,
    to: last.name,
    requestedBy: opts.requestedBy,
    reason: opts.reason ?? `rerun of ${pipelineId}`,
    ...(from ? { from } : {}),
    ...(opts.allowOlder ? { allowOlder: true } : {}),
    // A rerun of a one-environment promotion stays one environment.
    ...(status.promotion?.only ? { only: true } : {}),
    kind: 'rerun',
  });
  return { ...started, to: last.name };
}

/** Starts rollbackEnvironment back to the version that ran `commit` in `environment`. */
export async function startCommitRollback(
  client: Client,
  req: { service: string; environment: string; commit: string; requestedBy: string; reason?: string },
) {
  checkNames({ service: req.service, environment: req.environment });
  const commit = checkCommit(req.commit);
  const workflowId = `rollback/${req.service}/${req.environment}/${requestStamp()}`;
  const handle = await client.workflow.start(rollbackEnvironment, {
    taskQueue: taskQueues.deploy,
    workflowId,
    args: [
      {
        service: req.service,
        environment: req.environment,
        toCommit: commit,
        requestedBy: req.requestedBy,
        reason: req.reason ?? `rollback to ${commit.slice(0, 12)}`,
      },
    ],
  });
  return { workflowId, handle };
}
