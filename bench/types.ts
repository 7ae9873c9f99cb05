// The shape every benchmark section shares: it gets the running services and returns figures.
import type { Client } from '@temporalio/client';

export interface BenchContext {
  temporalAddress: string;
  /** PID of the Temporal dev server, for its RSS. */
  temporalPid: number;
  registry: string;
  /** A client of the harness's Temporal server (namespace default). */
  client: Client;
  /** Unique per run: service names carry it, so lanes of earlier runs never interfere. */
  runId: string;
}

export interface BenchResult {
  section: string;
  metric: string;
  value: string | number;
  target?: string;
  /** Whether the target was met; undefined where no target applies. */
  met?: boolean;
}

export type BenchSection = (ctx: BenchContext) => Promise<BenchResult[]>;
