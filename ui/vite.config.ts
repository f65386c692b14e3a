import { defineConfig } from "vite";

// The desktop window loads ui/dist through Tauri's `frontendDist`; `npm run dev` serves the
// same page on a fixed port for Tauri's `devUrl`. Run as `vite build ui` so `ui/` is the root.
export default defineConfig({
  base: "./",
  clearScreen: false,
  server: { port: 1420, strictPort: true },
  build: {
    outDir: "dist",
    emptyOutDir: true,
    target: "es2021",
    // Keep every asset a file: the CSP allows no inline data for scripts or styles.
    assetsInlineLimit: 0,
    cssCodeSplit: false,
    modulePreload: { polyfill: false },
  },
});
