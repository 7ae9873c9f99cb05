// Reads a Prometheus text exposition (GET /metrics) into something a test can ask: which metric
// families are declared, and the value of a series (`name{labels}` exactly as exported), or of
// all series of a name added up. A series that is not there reads 0, as a counter that never
// counted does.
export interface Samples {
  families: Set<string>;
  series: Map<string, number>;
  has(name: string): boolean;
  value(series: string): number;
}

export function parseMetrics(text: string): Samples {
  const families = new Set<string>();
  const series = new Map<string, number>();
  for (const line of text.split('\n')) {
    const type = /^# TYPE (\S+) /.exec(line);
    if (type) families.add(type[1] as string);
    if (line === '' || line.startsWith('#')) continue;
    const end = line.includes('}') ? line.lastIndexOf('}') + 1 : line.indexOf(' ');
    const [value] = line.slice(end).trim().split(' ');
    series.set(line.slice(0, end), Number(value));
  }
  const nameOf = (key: string) => key.split('{')[0];
  return {
    families,
    series,
    has: (name) => families.has(name) || [...series.keys()].some((k) => nameOf(k) === name),
    value(key) {
      if (series.has(key)) return series.get(key) as number;
      if (key.includes('{')) return 0;
      return [...series].filter(([k]) => nameOf(k) === key).reduce((sum, [, v]) => sum + v, 0);
    },
  };
}

export async function scrape(url: string): Promise<Samples> {
  const res = await fetch(url);
  if (res.status !== 200) throw new Error(`GET ${url} answered ${res.status}: ${await res.text()}`);
  return parseMetrics(await res.text());
}
