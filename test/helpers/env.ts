// What the harness (test/run.ts) hands every test file. A test that needs a real part and does not
// find it fails loudly instead of skipping: a green run must mean the parts were there.
export function requireEnv(name: string): string {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set: run tests through \`npm test\` (test/run.ts starts the services)`);
  return value;
}

export const temporalAddress = () => requireEnv('TEMPORAL_ADDRESS');
export const registryAddress = () => requireEnv('SLIPWAY_REGISTRY');
export const temporalTestServerPath = () => requireEnv('TEMPORAL_TEST_SERVER_PATH');
