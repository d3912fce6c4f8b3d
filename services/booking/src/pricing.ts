import type { Gpu } from '../../../lib/gen/aitbc/marketplace/v1/registry';

/** The hourly price a booking is charged, with the factors behind it. */
export interface PriceQuote {
  pricePerHourMicro: number;
  listedPriceMicro: number;
  multiplier: number;
  /** "pricing" (the pricing service's quote) or "listed_price" (the GPU's own price). */
  source: string;
}

/** Where the booking service gets prices: a port, so tests and the mesh can choose. */
export interface PricingPort {
  quote(gpu: Gpu, durationSeconds: number, start: Date): Promise<PriceQuote>;
}

/** The GPU's listed price, unchanged: used when no pricing service answers. */
export const listedPricing: PricingPort = {
  async quote(gpu) {
    return { pricePerHourMicro: gpu.pricePerHourMicro, listedPriceMicro: gpu.pricePerHourMicro, multiplier: 1, source: 'listed_price' };
  },
};
