import { api } from './api.js';

/**
 * A provider's GPUs. The list has no owner filter, so this pages through it (500 a page, at
 * most 20 pages) and keeps the account's own; an admin's fleet is every GPU.
 */
export async function fleetGpus(account) {
  const mine = [];
  let cursor;
  for (let page = 0; page < 20; page++) {
    const { body, headers } = await api('GET', '/v1/marketplace/gpu/list', { query: { limit: 500, cursor } });
    mine.push(...body.filter((g) => account.role === 'admin' || g.owner_id === account.account_id));
    cursor = headers.get('X-Next-Cursor');
    if (!cursor) break;
  }
  return mine;
}
