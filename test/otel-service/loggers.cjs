// A service that logs with pino and winston and nothing else: the README's
// setup ships its lines, run as
//   node --require examples/opentelemetry/otel-logs.cjs test/otel-service/loggers.cjs
// (test/otlp-examples.test.ts). It logs inside a span whose ids come from
// LOGGERS_SPAN ({"traceId", "spanId"}), as a traced service would, and once
// outside any span. CommonJS: the bridges patch pino and winston as they are required.
const { context, trace, TraceFlags } = require('@opentelemetry/api');
const { AsyncLocalStorageContextManager } = require('@opentelemetry/context-async-hooks');
const pino = require('pino');
const winston = require('winston');

// a tracing SDK registers a context manager; this service has no tracer, so it registers one itself
context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
const span = JSON.parse(process.env.LOGGERS_SPAN);
const pinoLogger = pino();
const winstonLogger = winston.createLogger({ level: 'info', transports: [new winston.transports.Console()] });

context.with(trace.setSpanContext(context.active(), { ...span, traceFlags: TraceFlags.SAMPLED }), () => {
  pinoLogger.info({ order: 42 }, 'pino: order placed');
  pinoLogger.warn('pino: payment slow');
  pinoLogger.error('pino: payment failed');
  winstonLogger.info('winston: order placed', { order: 42 });
  winstonLogger.warn('winston: payment slow');
  winstonLogger.error('winston: payment failed');
});
pinoLogger.info('pino: outside any span');
winstonLogger.info('winston: outside any span');
