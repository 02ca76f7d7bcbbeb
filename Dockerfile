# One image for all three apps; the command picks the app.
FROM node:20-bookworm-slim
WORKDIR /app
COPY package.json package-lock.json ./
COPY apps/ingest-api/package.json apps/ingest-api/
COPY apps/worker/package.json apps/worker/
COPY apps/admin/package.json apps/admin/
COPY packages/ packages/
# a test fixture's workspace (the OpenTelemetry SDK): npm ci needs every workspace of the lock file
COPY test/otel-service/package.json test/otel-service/
RUN npm ci --no-audit --no-fund
COPY . .
# the tenant console (esbuild; apps/ingest-api/console/dist, not committed)
RUN node scripts/build-console.mjs
# the workspace's packages/client is used from its sources (see packages/client/README.md)
ENV NODE_ENV=production HOST=0.0.0.0 NODE_OPTIONS=--conditions=central-logger-source
USER node
CMD ["node", "--import", "tsx", "apps/ingest-api/src/main.ts"]
