/**
 * Writes the gateway's OpenAPI document (what GET /openapi.json serves) to openapi.json, from
 * the routes alone (no service is called). `npm run openapi` then makes the typed client's
 * types from it (test/gen/api.ts); CI regenerates both and fails on a difference.
 *
 *   tsx bin/openapi.ts [out.json]
 */
import { writeFileSync } from 'node:fs';
import { buildGateway } from '../gateway/src/app';
import { localKeyDirectory } from '../lib/keyDirectory';
import { createKeyStore } from '../lib/apiKeys';
import { createLogger } from '../lib/logger';

export async function openApiDocument(): Promise<Record<string, unknown>> {
  const app = await buildGateway({
    registry: {} as never, booking: {} as never, pricing: {} as never, reviews: {} as never, accounts: {} as never, market: {} as never,
    keys: localKeyDirectory(createKeyStore([])), logger: createLogger('openapi', 'silent'), backends: [],
  });
  await app.ready();
  const doc = app.swagger() as unknown as Record<string, unknown>;
  await app.close();
  return doc;
}

if (require.main === module) {
  const out = process.argv[2] ?? 'openapi.json';
  openApiDocument().then((doc) => {
    writeFileSync(out, `${JSON.stringify(doc, null, 2)}\n`);
    process.stdout.write(`wrote ${out}\n`);
  }, (err: Error) => {
    process.stderr.write(`openapi: ${err.message}\n`);
    process.exit(1);
  });
}
