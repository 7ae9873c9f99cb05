// Whole-number settings read from the environment. A typo must stop the process with a message
// naming the variable, not turn into NaN deep inside the SDK's option validation.

export function wholeNumberFromEnv(name: string, fallback: number, { min = 1 }: { min?: number } = {}): number {
  const raw = process.env[name];
  if (raw === undefined || raw.trim() === '') return fallback;
  const value = Number(raw);
  if (!Number.isSafeInteger(value) || value < min)
    throw new Error(`${name}: expected a whole number of at least ${min}, got "${raw}"`);
  return value;
}
