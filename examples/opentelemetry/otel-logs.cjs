// node --require ./otel-logs.cjs app.js
// Sends every pino and winston log line as an OTLP record (with the trace and
// span ids of the active span); endpoint, key and resource from the OTEL_*
// variables.
const { logs } = require('@opentelemetry/api-logs');
const { registerInstrumentations } = require('@opentelemetry/instrumentation');
const { PinoInstrumentation } = require('@opentelemetry/instrumentation-pino');
const { WinstonInstrumentation } = require('@opentelemetry/instrumentation-winston');
const { OTLPLogExporter } = require('@opentelemetry/exporter-logs-otlp-proto');
const { defaultResource, detectResources, envDetector } = require('@opentelemetry/resources');
const { BatchLogRecordProcessor, LoggerProvider } = require('@opentelemetry/sdk-logs');

const provider = new LoggerProvider({
  resource: defaultResource().merge(detectResources({ detectors: [envDetector] })),
  processors: [new BatchLogRecordProcessor({ exporter: new OTLPLogExporter() })],
});
logs.setGlobalLoggerProvider(provider);
// winston's bridge also needs @opentelemetry/winston-transport installed
registerInstrumentations({ instrumentations: [new PinoInstrumentation(), new WinstonInstrumentation()] });
// send what is still batched before the process ends
process.once('beforeExit', () => provider.shutdown());
