/**
 * Reads a protobuf or OTLP/JSON request body with the ingest route's limits
 * (wire bytes, decompressed bytes, a gzip bomb cut off while it streams, 413
 * with `Connection: close`): the one body reader of @central-logger/http.
 */
export { readBodyBytes as readBinaryBody } from '@central-logger/http';
