import { defineConfig } from 'vite';

// Workspace packages resolve to their TypeScript sources ("@cnn-xai/source" export condition), so
// `vite` (dev) follows edits in packages/ and plugins/. Listing conditions replaces Vite's defaults,
// so they are repeated. `base: './'` lets the built deck be served from any path.
export default defineConfig({
  base: './',
  resolve: { conditions: ['@cnn-xai/source', 'module', 'browser', 'development|production'] },
  build: { chunkSizeWarningLimit: 4096, target: 'es2022' },
  server: { port: 4322 },
  preview: { port: 4322 },
});
