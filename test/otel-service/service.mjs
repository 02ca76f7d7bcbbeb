// A Node service instrumented with the official OpenTelemetry JS SDK, shipping
// its logs to central-logger by configuration alone: the exporter reads
// OTEL_EXPORTER_OTLP_LOGS_ENDPOINT, OTEL_EXPORTER_OTLP_HEADERS (x-api-key=…)
// and OTEL_EXPORTER_OTLP_COMPRESSION; the resource comes from OTEL_SERVICE_NAME
// and OTEL_RESOURCE_ATTRIBUTES. Plain JavaScript run by plain node.
// It lives in a workspace of its own (test/otel-service/package.json).
// OTEL_EMIT says which records to emit and may name the exporter (proto | http); the
// result of every export is printed as JSON on stdout.
import { context, trace, TraceFlags } from '@opentelemetry/api';
import { OTLPLogExporter as JsonExporter } from '@opentelemetry/exporter-logs-otlp-http';
import { OTLPLogExporter as ProtobufExporter } from '@opentelemetry/exporter-logs-otlp-proto';
import { defaultResource, detectResources, envDetector } from '@opentelemetry/resources';
import { BatchLogRecordProcessor, LoggerProvider } from '@opentelemetry/sdk-logs';

const spec = JSON.parse(process.env.OTEL_EMIT);
// unless the test names one: the exporter OTEL_EXPORTER_OTLP_LOGS_PROTOCOL names, as the SDK's own setup (NodeSDK) picks it
const kind = spec.exporter ?? (process.env.OTEL_EXPORTER_OTLP_LOGS_PROTOCOL === 'http/json' ? 'http' : 'proto');
const exporter = kind === 'http' ? new JsonExporter() : new ProtobufExporter();
const results = [];
const recording = {
  export(logs, done) {
    exporter.export(logs, (result) => {
      results.push({ code: result.code, error: result.error?.message });
      done(result);
    });
  },
  shutdown: () => exporter.shutdown(),
  forceFlush: () => exporter.forceFlush(),
};
const provider = new LoggerProvider({
  resource: defaultResource().merge(detectResources({ detectors: [envDetector] })),
  processors: [new BatchLogRecordProcessor({ exporter: recording, scheduledDelayMillis: 60_000, exportTimeoutMillis: 20_000 })],
});
const logger = provider.getLogger(spec.scope?.name ?? 'billing', spec.scope?.version ?? '1.2.3');
for (const { span, ...record } of spec.records) {
  const inSpan = span ? { context: trace.setSpanContext(context.active(), { ...span, traceFlags: TraceFlags.SAMPLED }) } : {};
  logger.emit({ ...record, ...inSpan });
}
await provider.forceFlush();
await provider.shutdown();
process.stdout.write(JSON.stringify({ results }));
