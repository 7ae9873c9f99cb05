// A tiny workflow for the foundation round trip: one activity call through the real server.
import { proxyActivities, workflowInfo } from '@temporalio/workflow';

const { shout } = proxyActivities<{ shout(text: string): Promise<string> }>({ startToCloseTimeout: '10s' });

export async function echo(text: string): Promise<string> {
  return `${await shout(text)} from ${workflowInfo().workflowType}`;
}
