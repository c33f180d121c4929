// @ts-check
import mdx from '@astrojs/mdx';
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'astro/config';

// Workspace packages resolve to their TypeScript sources (the "@cnn-xai/source" export condition),
// so `astro dev` follows edits in packages/ and plugins/ without a rebuild. Listing the condition
// replaces Vite's defaults, so they are repeated.
const conditions = ['@cnn-xai/source', 'module', 'browser', 'development|production'];

export default defineConfig({
  output: 'static',
  trailingSlash: 'ignore',
  integrations: [mdx()],
  devToolbar: { enabled: false },
  vite: {
    resolve: {
      conditions,
      // tfjs-core's Node platform names node-fetch; `astro dev` pre-bundles tfjs and fails to resolve it.
      alias: { 'node-fetch': fileURLToPath(new URL('./src/shims/empty.js', import.meta.url)) },
    },
    ssr: { resolve: { conditions: ['@cnn-xai/source', 'module', 'node', 'development|production'] } },
    build: { chunkSizeWarningLimit: 4096 },
  },
});
