// What a pipeline tells the world while it runs: its search attributes and the Markdown "current
// details" the Temporal UI shows (published after every change), and GitLab's commit status and
// deployments (best effort: a GitLab outage never fails a delivery).
import { log, setCurrentDetails, upsertSearchAttributes } from '@temporalio/workflow';
import {
  CommitAttribute,
  EnvironmentAttribute,
  ServiceAttribute,
  StateAttribute,
} from '../../common/search-attributes';
import { gitlab } from '../proxies';
import { describePipeline } from './details';
import type { DeploymentReport, PipelineRun } from './run';

/** The attributes that never change, set once at the start. */
export function publishIdentity(run: PipelineRun): void {
  upsertSearchAttributes([
    { key: ServiceAttribute, value: run.input.service },
    { key: CommitAttribute, value: run.input.commit },
  ]);
}

/** State and focus environment for visibility queries, and the UI's current details. */
export function publish(run: PipelineRun): void {
  upsertSearchAttributes([
    { key: StateAttribute, value: run.status.state },
    { key: EnvironmentAttribute, value: run.focusEnvironment() },
  ]);
  setCurrentDetails(describePipeline(run.status));
}

export type CommitReport = 'pending' | 'running' | 'success' | 'failed' | 'canceled';

export class GitlabReporter {
  private project: string | undefined;
  /** GitLab's deployment ID per environment, so later states update the same deployment. */
  private readonly deployments = new Map<string, number>();

  constructor(private readonly run: PipelineRun) {}

  /** Reports from here on; a manual run has no GitLab project and reports nothing. */
  start(): void {
    this.project = this.run.gitlabProject;
  }

  async commitStatus(state: CommitReport, description: string, name = 'slipway'): Promise<void> {
    // The commit's status is its build pipeline's; a promotion reports deployments only.
    if (!this.project || this.run.input.promotion) return;
    const { commit, ref } = this.run.input;
    await gitlab
      .reportCommitStatus({
        project: this.project,
        sha: commit,
        ref: refName(ref),
        state,
        description,
        targetUrl: undefined,
        name,
      })
      .catch((err: unknown) => log.warn('GitLab commit status not reported', { error: (err as Error).message }));
  }

  /**
   * A commit status of its own per frozen environment ("slipway freeze: production"): the
   * pipeline's own status is "running" and GitLab refuses running -> pending, so a freeze shows as
   * a pending status beside it, resolved when the freeze ends, is overridden or the pipeline ends.
   */
  async freezeStatus(environment: string, state: CommitReport, description: string): Promise<void> {
    await this.commitStatus(state, description, `slipway freeze: ${environment}`);
  }

  async deployment(environment: string, status: DeploymentReport): Promise<void> {
    const { commit } = this.run.input;
    // A promotion reports under its build pipeline's ref (status.ref); others: the input's, the same.
    const ref = this.run.status.ref;
    if (!this.project || !ref) return;
    try {
      const result = await gitlab.reportDeployment({
        project: this.project,
        sha: commit,
        ref: refName(ref) ?? ref,
        tag: ref.startsWith('refs/tags/'),
        environment,
        status,
        deploymentId: this.deployments.get(environment),
      });
      if (result) this.deployments.set(environment, result.deploymentId);
    } catch (err) {
      log.warn('GitLab deployment not reported', { environment, error: (err as Error).message });
    }
  }
}

/** refs/heads/main -> main, as GitLab names refs. */
export function refName(ref: string | undefined): string | undefined {
  return ref?.replace(/^refs\/(heads|tags)\//, '');
}
