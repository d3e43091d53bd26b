// Stands in for services/consumer in process-target tests: answers on PORT with its identity,
// and on SIGTERM finishes "its message" (a short delay) and exits 0, as the real consumer does.
import { createServer } from 'node:http';
import { setTimeout } from 'node:timers';

const server = createServer((_req, res) => {
  res.setHeader('content-type', 'application/json');
  res.end(JSON.stringify({ id: process.env.CONSUMER_ID, port: process.env.PORT, topic: process.env.TOPIC ?? null }));
});
server.on('error', (err) => console.error(`listen failed: ${err.message}`));
server.listen(Number(process.env.PORT), '127.0.0.1', () => console.log(`${process.env.CONSUMER_ID} listening on ${process.env.PORT}`));
process.on('SIGTERM', () => {
  console.log(`${process.env.CONSUMER_ID} leaving the group`);
  server.close();
  setTimeout(() => process.exit(0), 150);
});
