// Builds the tenant console (apps/ingest-api/console/src → dist/) with esbuild:
// one script bundle (Preact, minified) and one style sheet, no source maps, no
// CDN. Run by `npm start`, `npm test`, .ci/run (through them) and the image;
// under a second. The output is not committed (.gitignore: dist/).
import { copyFileSync, mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', 'apps', 'ingest-api', 'console');
const out = join(root, 'dist');
mkdirSync(out, { recursive: true });
await build({
  entryPoints: { app: join(root, 'src', 'main.tsx') },
  outdir: out,
  bundle: true,
  minify: true,
  format: 'esm',
  target: ['es2020'],
  jsx: 'automatic',
  jsxImportSource: 'preact',
  legalComments: 'none',
  logLevel: 'warning',
});
await build({ entryPoints: { app: join(root, 'src', 'style.css') }, outdir: out, bundle: true, minify: true, logLevel: 'warning' });
copyFileSync(join(root, 'src', 'index.html'), join(out, 'index.html'));
