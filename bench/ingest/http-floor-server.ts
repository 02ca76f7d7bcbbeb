// The server bench/ingest/http-floor.ts measures: Node's HTTP server doing the
// least a log endpoint can (read the body, JSON.parse it, answer 202 with an
// id and a request id), nothing else. Prints its port on stdout.
import { randomUUID } from 'node:crypto';
import { createServer } from 'node:http';

const server = createServer((req, res) => {
  if (req.method === 'GET') {
    res.end('ok'); // waitHealthy
    return;
  }
  const chunks: Buffer[] = [];
  req.on('data', (chunk: Buffer) => chunks.push(chunk));
  req.on('end', () => {
    const event = JSON.parse(Buffer.concat(chunks).toString('utf8')) as object;
    const body = JSON.stringify({ accepted: 1, ids: [`evt_${randomUUID()}`], fields: Object.keys(event).length });
    res.writeHead(202, { 'Content-Type': 'application/json; charset=utf-8', 'Content-Length': Buffer.byteLength(body), 'X-Request-Id': randomUUID() });
    res.end(body);
  });
});
server.listen(Number(process.env.PORT), '127.0.0.1');
process.on('SIGTERM', () => server.close(() => process.exit(0)));
