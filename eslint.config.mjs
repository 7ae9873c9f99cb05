// Lint rules that catch real bugs in Temporal code: floating promises (a lost await in a workflow
// or activity is a lost step), misused promises, and imports of Node APIs from workflow code.
import tseslint from 'typescript-eslint';

export default tseslint.config(
  {
    // examples/hello-pnpm is a team's TypeScript service with its own tsconfig and dependencies
    // (installed only inside its image build): its own build checks it.
    ignores: [
      'node_modules/**',
      '.slipway/**',
      'dist/**',
      'examples/**/node_modules/**',
      'examples/hello-pnpm/**',
      'test-results/**',
      'bench/results/**',
    ],
  },
  ...tseslint.configs.recommended,
  {
    // The example services are plain CommonJS Node programs, as the teams we serve write them.
    files: ['examples/**/*.js', 'test/fixtures/builds/**/*.js'],
    rules: { '@typescript-eslint/no-require-imports': 'off' },
  },
  {
    files: ['**/*.ts'],
    languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname } },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': ['error', { checksVoidReturn: { arguments: false } }],
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/consistent-type-imports': ['error', { fixStyle: 'inline-type-imports' }],
    },
  },
  {
    // node:test's test() and describe() return promises the runner itself awaits.
    files: ['test/**/*.ts', 'bench/**/*.ts'],
    rules: {
      '@typescript-eslint/no-floating-promises': [
        'error',
        {
          allowForKnownSafeCalls: [
            { from: 'package', package: 'node:test', name: ['test', 'describe', 'it', 'suite'] },
          ],
        },
      ],
    },
  },
  {
    files: ['workflows/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              group: ['node:*', 'fs', 'path', 'os', 'child_process', 'http', 'https', 'net', 'crypto'],
              message: 'workflow code must stay deterministic: no Node APIs',
            },
            {
              group: [
                'axios',
                'dockerode',
                'handlebars',
                '**/activities',
                '**/activities/**',
                '**/client/**',
                '**/dev/**',
              ],
              message: 'workflows reach side effects only through activities (import type)',
              allowTypeImports: true,
            },
          ],
        },
      ],
      // Workflow code stays readable in one sitting: decisions in state classes, steps in small
      // stage functions, the Temporal shell thin (docs/versioning.md explains why it matters).
      'max-lines-per-function': ['error', { max: 80 }],
      'max-lines': ['error', { max: 400 }],
    },
  },
  {
    files: ['workflows/*/index.ts'],
    rules: { 'max-lines': ['error', { max: 200 }] },
  },
  { files: ['**/*.js', '**/*.mjs'], ...tseslint.configs.disableTypeChecked },
);
