import { fileURLToPath } from 'node:url';
import react from '@vitejs/plugin-react';
import { defineConfig } from 'vite';

// Built from the workspace root (`vite build --config apps/console-web/vite.config.ts`): the root and the
// output folder are this folder's, whatever the working directory.
const projectRoot = fileURLToPath(new URL('.', import.meta.url));

export default defineConfig({
  root: projectRoot,
  base: '/console/',
  plugins: [react()],
  build: {
    outDir: fileURLToPath(new URL('./dist', import.meta.url)),
    emptyOutDir: true,
  },
  server: {
    // `vite --config apps/console-web/vite.config.ts` with the console running on :8080 (TESSERA_CONSOLE_URL to change).
    proxy: { '/v1': process.env['TESSERA_CONSOLE_URL'] ?? 'http://127.0.0.1:8080' },
  },
});
