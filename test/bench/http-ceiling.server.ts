/**
 * The HTTP ceiling for `npm run bench:ingest`: a bare Fastify server that reads the same requests as raw
 * bytes and answers 202 without verifying, validating or touching Redis. Run as its own process, like the
 * intake, so the two share the machine the same way; prints its port on stdout.
 */
import Fastify from 'fastify';

const app = Fastify();
app.addContentTypeParser('*', { parseAs: 'buffer' }, (_request, body, done) => done(null, body));
app.post('/v1/sources/:sourceId/events', async (request, reply) => {
  reply.code(202);
  return { accepted: (request.body as Buffer).length > 0 ? 1 : 0, duplicates: 0, rejected: 0 };
});
app.listen({ port: 0, host: '127.0.0.1' }).then(
  (address) => process.stdout.write(`${new URL(address).port}\n`),
  (error: unknown) => {
    process.stderr.write(`http ceiling: ${String(error)}\n`);
    process.exit(1);
  },
);
process.on('SIGTERM', () => void app.close().then(() => process.exit(0)));
