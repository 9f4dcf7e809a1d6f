import nx from '@nx/eslint-plugin';

// Driver and framework packages a destination or plugin must never import: it declares operations and
// limits, and the pipeline runs them.
const runtimeOnly = ['@nestjs/*', 'bullmq', 'ioredis', 'pg', '@electric-sql/pglite', 'fastify'];

export default [
  ...nx.configs['flat/base'],
  ...nx.configs['flat/typescript'],
  { ignores: ['**/node_modules', '**/dist', '**/.nx', '**/.tessera', '**/coverage'] },
  {
    files: ['**/*.ts', '**/*.tsx'],
    rules: {
      '@nx/enforce-module-boundaries': [
        'error',
        {
          enforceBuildableLibDependency: false,
          allow: [],
          depConstraints: [
            // Apps (Nest shells) wire packages together; the all-in-one entry composes the app modules.
            {
              sourceTag: 'type:app',
              onlyDependOnLibsWithTags: [
                'type:app',
                'type:core',
                'type:registry',
                'type:destination',
                'type:plugin',
              ],
            },
            // The registry lists the destination packages of the build; only apps import it.
            {
              sourceTag: 'type:registry',
              onlyDependOnLibsWithTags: ['type:core', 'type:destination', 'type:plugin'],
            },
            // The console's web UI is a browser bundle: it talks to the API over HTTP and imports no package.
            { sourceTag: 'type:web', onlyDependOnLibsWithTags: [] },
            // Core packages are the logic: they never reach into apps or a specific destination.
            { sourceTag: 'type:core', onlyDependOnLibsWithTags: ['type:core'] },
            // A destination or plugin sees only the SDK: destination-kit, transform and events.
            {
              sourceTag: 'type:destination',
              onlyDependOnLibsWithTags: ['scope:sdk'],
              bannedExternalImports: runtimeOnly,
            },
            {
              sourceTag: 'type:plugin',
              onlyDependOnLibsWithTags: ['scope:sdk'],
              bannedExternalImports: runtimeOnly,
            },
            {
              sourceTag: 'type:test',
              onlyDependOnLibsWithTags: [
                'type:app',
                'type:core',
                'type:registry',
                'type:destination',
                'type:plugin',
              ],
            },
          ],
        },
      ],
      '@typescript-eslint/no-explicit-any': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      'no-console': ['error', { allow: ['error', 'warn'] }],
    },
  },
];
