// Durations as people write them in config ("90s", "5m", "72h", "1d"), turned into seconds.
const units: Record<string, number> = { ms: 0.001, s: 1, m: 60, h: 3600, d: 86400 };

export function parseDuration(text: string): number | undefined {
  const match = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)\s*$/.exec(text);
  if (!match) return undefined;
  return Number(match[1]) * (units[match[2] as string] as number);
}
