# One image for all three apps; the command picks the app (docker-compose.yml):
#   node apps/ingest-api/dist/main.js | node apps/worker/dist/main.js | node apps/admin/dist/main.js
#   node apps/admin/dist/cli/main.js <command>   (the CLI, e.g. migrate; or bin/central-logger <command>)
# Three stages: `build` compiles the TypeScript with every dependency; `deps`
# installs the production dependencies alone; the final image holds those and
# each workspace's package.json and dist/, plus the files read at run time
# (migrations/, packages/otlp/proto/), and the tenant console's built files
# (apps/ingest-api/console/dist, esbuild). No sources, no type declarations (.d.ts),
# no tsx, no compiler.

FROM node:20-bookworm-slim AS build
WORKDIR /app
# tsconfig.json: the console's tsconfig extends it, and esbuild reads that chain
COPY package.json package-lock.json tsconfig.json tsconfig.base.json tsconfig.build.json ./
COPY packages/ packages/
COPY apps/ apps/
COPY scripts/copy-assets.mjs scripts/build-console.mjs scripts/
# npm ci needs every workspace of the lock file, the test fixture's too
COPY test/otel-service/package.json test/otel-service/
RUN npm ci --no-audit --no-fund
RUN npm run build \
 && mkdir -p /out \
 && for w in packages/* apps/*; do mkdir -p "/out/$w" && cp -r "$w/package.json" "$w/dist" "/out/$w/"; done \
 && rm -f /out/*/*/dist/tsconfig.tsbuildinfo \
 && find /out -name '*.d.ts' -delete \
 && mkdir -p /out/apps/ingest-api/console && cp -r apps/ingest-api/console/dist /out/apps/ingest-api/console/

FROM node:20-bookworm-slim AS deps
WORKDIR /app
COPY package.json package-lock.json ./
COPY packages/ packages/
COPY apps/ingest-api/package.json apps/ingest-api/
COPY apps/worker/package.json apps/worker/
COPY apps/admin/package.json apps/admin/
COPY test/otel-service/package.json test/otel-service/
# the three apps' production dependencies only; no scripts: bcrypt and msgpackr
# load their prebuilt linux binaries, and the SDK's prepare build is done above.
# npm 10 (Node 20's) runs a linked workspace's `prepare` even with --ignore-scripts
# (the SDK's `tsc -b`: no tsc here), so it goes from this stage's copy of its package.json;
# the image takes the SDK's package.json from the build stage, unchanged.
RUN npm pkg delete scripts.prepare --workspace=packages/client \
 && npm ci --omit=dev --ignore-scripts --no-audit --no-fund \
      --workspace=apps/ingest-api --workspace=apps/worker --workspace=apps/admin

FROM node:20-bookworm-slim
# the old generation capped at 1 GB (APP_HEAP_OPTION in packages/config): Node would size it from the host's memory
ENV NODE_ENV=production HOST=0.0.0.0 NODE_OPTIONS=--max-old-space-size=1024
WORKDIR /app
# owned by root, run as node: the processes cannot change their own code
COPY --from=deps /app/node_modules node_modules
COPY --from=build /out ./
COPY package.json ./
COPY bin/ bin/
COPY migrations/ migrations/
COPY packages/otlp/proto/ packages/otlp/proto/
USER node
EXPOSE 8000 8001
CMD ["node", "apps/ingest-api/dist/main.js"]
