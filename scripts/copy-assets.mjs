// Part of `npm run build`: tsc compiles only TypeScript, so every other file
// under a workspace's src/ (the dashboard's HTML, CSS and browser JavaScript,
// the Redis Lua scripts) is copied to the same place under its dist/, where
// the compiled code reads it (`new URL('./x.lua', import.meta.url)`).
// Last, it stamps each dist/ (dist/.built): bin/central-logger runs the build
// only while no source file is newer than that stamp.
// Plain JavaScript: it runs with plain node, before anything is built.
import { cpSync, readdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
let copied = 0;
for (const group of ['packages', 'apps']) {
  for (const name of readdirSync(join(root, group))) {
    const src = join(root, group, name, 'src');
    for (const entry of readdirSync(src, { recursive: true, withFileTypes: true })) {
      if (!entry.isFile() || entry.name.endsWith('.ts')) continue;
      const from = join(entry.parentPath, entry.name);
      cpSync(from, join(root, group, name, 'dist', from.slice(src.length + 1)));
      copied++;
    }
    writeFileSync(join(root, group, name, 'dist', '.built'), `${new Date().toISOString()}\n`);
  }
}
console.log(`✓ Copied ${copied} non-TypeScript files from src/ to dist/`);
