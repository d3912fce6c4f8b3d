import type { Bid } from '../../../lib/gen/aitbc/marketplace/v1/market';
import type { BidRow } from './bidStore';

export const bidMessage = (row: BidRow): Bid => ({
  bidId: row.bid_id, clientId: row.client_id, provider: row.provider, capacity: row.capacity, priceMicro: row.price_micro,
  durationSeconds: row.duration_seconds, gpuModel: row.gpu_model, memoryMin: row.memory_min, region: row.region, notes: row.notes,
  status: row.status, reason: row.reason, bookingIds: row.booking_ids, submittedAt: row.submitted_at, expiresAt: row.expires_at,
  decidedAt: row.decided_at ?? undefined,
});
