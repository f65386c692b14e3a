import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    environment: "jsdom",
    include: ["ui/test/**/*.test.ts"],
    restoreMocks: true,
    // A test fails on what it checks, not on the clock: axe-core over a whole screen takes
    // well under a second here but several on a machine busy with a build, past Vitest's
    // 5 s default. The limit is there only to end a hung test.
    testTimeout: 120_000,
    hookTimeout: 120_000,
  },
});
