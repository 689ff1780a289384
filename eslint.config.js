// ESLint with typescript-eslint's type-aware rules. Layout is Prettier's business (see
// .prettierrc.json), so no stylistic rule is turned on here.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['dist/', 'build/', 'prebuilds/', 'docs/api/', 'node_modules/', 'coverage/', 'test/.doc-examples/'] },
  js.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      // A promise nobody awaits is a launch or a kill whose failure nobody sees.
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      // A best-effort step (restoring a terminal, closing what may be closed) may ignore its error.
      'no-empty': ['error', { allowEmptyCatch: true }],
    },
  },
  {
    // vitest's asymmetric matchers (expect.objectContaining, expect.stringMatching, ...) are typed
    // `any`, and every toThrow/toMatchObject of a typed error passes one.
    files: ['test/**/*.ts'],
    rules: {
      '@typescript-eslint/no-unsafe-argument': 'off',
      '@typescript-eslint/no-unsafe-assignment': 'off',
      // execFile's callback error is @types/node's ExecFileException, built with Omit<> from
      // Error's subtypes, which the rule cannot see as an Error.
      '@typescript-eslint/prefer-promise-reject-errors': 'off',
    },
  },
  {
    // Plain JavaScript (scripts, benchmarks, test helpers) is not in the TypeScript project.
    files: ['**/*.js', '**/*.mjs', '**/*.cjs'],
    ...tseslint.configs.disableTypeChecked,
    languageOptions: {
      ...tseslint.configs.disableTypeChecked.languageOptions,
      globals: {
        process: 'readonly',
        console: 'readonly',
        Buffer: 'readonly',
        URL: 'readonly',
        setTimeout: 'readonly',
        clearTimeout: 'readonly',
        setInterval: 'readonly',
        clearInterval: 'readonly',
        setImmediate: 'readonly',
        queueMicrotask: 'readonly',
        AbortController: 'readonly',
        performance: 'readonly',
        globalThis: 'readonly',
        TextDecoder: 'readonly',
        TextEncoder: 'readonly',
      },
    },
  },
);
