// ESLint flat config: typescript-eslint's recommended rules over all TypeScript sources.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['dist/', 'node_modules/', '.gl/', '.gpu-node/', 'test-results/', 'playwright-report/', 'bench/out/', 'reports/'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: {
      globals: {
        window: 'readonly', document: 'readonly', navigator: 'readonly', console: 'readonly', process: 'readonly',
        performance: 'readonly', setTimeout: 'readonly', clearTimeout: 'readonly', setInterval: 'readonly',
        clearInterval: 'readonly', URL: 'readonly', fetch: 'readonly', crypto: 'readonly', self: 'readonly',
        TextEncoder: 'readonly', TextDecoder: 'readonly', Buffer: 'readonly', caches: 'readonly', location: 'readonly',
        Worker: 'readonly', MessageChannel: 'readonly', structuredClone: 'readonly', queueMicrotask: 'readonly',
        AbortController: 'readonly', Response: 'readonly', Request: 'readonly', Headers: 'readonly', Blob: 'readonly',
      },
    },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      'no-constant-condition': ['error', { checkLoops: false }],
    },
  },
);
