import type { PricingServiceClient } from '../../../lib/gen/aitbc/marketplace/v1/pricing';
import type { AsyncClient } from '../../../lib/grpcClient';
import type { Logger } from '../../../lib/logger';

/** The hourly price a booking is charged, with the factors behind it. */
export interface PriceQuote {
  pricePerHourMicro: number;
  listedPriceMicro: number;
  multiplier: number;
  /** "pricing" (the pricing service's quote) or "listed_price" (the GPU's own price). */
  source: string;
}

/** What a quote is for: a GPU's id, model and listed price. */
export interface PricedGpu {
  gpuId: string;
  model: string;
  listedPriceMicro: number;
}

/** Where the booking service gets prices: a port, so tests and the mesh can choose. */
export interface PricingPort {
  quote(gpu: PricedGpu, durationSeconds: number, start: Date): Promise<PriceQuote>;
}

/** The GPU's listed price, unchanged: used when no pricing service answers. */
export const listedPricing: PricingPort = {
  async quote(gpu) {
    return { pricePerHourMicro: gpu.listedPriceMicro, listedPriceMicro: gpu.listedPriceMicro, multiplier: 1, source: 'listed_price' };
  },
};

/**
 * Quotes from the pricing service, with a short deadline. Whenever it does not answer in
 * time (down, slow, not deployed) the booking goes ahead at the listed price and says so
 * (source "listed_price"): pricing is an improvement, never a single point of failure.
 */
export function pricingServiceQuotes(client: AsyncClient<PricingServiceClient>, deadlineMs: number, logger: Logger): PricingPort {
  let lastWarning = 0;
  return {
    async quote(gpu, durationSeconds, start) {
      try {
        const q = await client.quote({
          caller: undefined, gpuId: gpu.gpuId, model: gpu.model,
          listedPricePerHourMicro: gpu.listedPriceMicro, durationSeconds, startTime: start,
        }, { deadlineMs });
        return { pricePerHourMicro: q.pricePerHourMicro, listedPriceMicro: q.listedPriceMicro, multiplier: q.multiplierBp / 10_000, source: 'pricing' };
      } catch (err) {
        // One warning a minute is enough to notice; every booking would flood the log.
        if (Date.now() - lastWarning > 60_000) {
          lastWarning = Date.now();
          logger.warn({ err }, 'pricing service did not quote; booking at listed prices');
        }
        return listedPricing.quote(gpu, durationSeconds, start);
      }
    },
  };
}
