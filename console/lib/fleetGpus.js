import { api } from './api.js';

/**
 * A provider's GPUs (the list's `owner_id=me`, 500 a page, every page); an admin's fleet is
 * every GPU, its first 10,000 (20 pages).
 */
export async function fleetGpus(account) {
  const mine = [];
  const query = account.role === 'admin' ? {} : { owner_id: 'me' };
  let cursor;
  for (let page = 0; account.role !== 'admin' || page < 20; page++) {
    const { body, headers } = await api('GET', '/v1/marketplace/gpu/list', { query: { ...query, limit: 500, cursor } });
    mine.push(...body);
    cursor = headers.get('X-Next-Cursor');
    if (!cursor) break;
  }
  return mine;
}
