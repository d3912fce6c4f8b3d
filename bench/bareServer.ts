/**
 * The yardstick of bench/list.ts: a bare Fastify route answering a constant JSON array of
 * the same size as a real list page. Prints "bare listening" when ready.
 */
import Fastify from 'fastify';

const body = JSON.parse(process.env.BARE_BODY ?? '[]') as unknown[];
const app = Fastify();
app.get('/list', async () => body);
app.listen({ host: '127.0.0.1', port: Number(process.env.PORT ?? 0) }).then(() => process.stdout.write('bare listening\n'));
