import { defineConfig } from 'vitest/config';

// Unit tests run in Node. Kernel tests use Dawn (npm `webgpu`) over the software Vulkan driver,
// so they are slow to compile pipelines: generous timeouts, and one fork to keep memory flat.
export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 120_000,
    hookTimeout: 120_000,
    pool: 'forks',
    reporters: ['default', 'json'],
    outputFile: { json: 'reports/unit.json' },
  },
});
