import { accountSchema, balanceSchema, keySchema, ledgerEntrySchema, newKeySchema, transactionSchema } from './accountJson';
import { problemSchema } from './answers';
import { bookingSchema, dryRunSchema, jobSchema, orderSchema, releaseSchema } from './bookingJson';
import { gpuSchema } from './gpuJson';
import { minerOfferSchema, offerSchema } from './offerJson';
import { modelPriceSchema, priceHistorySchema } from './pricingJson';
import { ratingHistorySchema, ratingSummarySchema, reviewPageSchema, reviewSchema } from './reviewJson';
import { bidSchema } from './routes/marketRoutes';

/** Every named answer schema, registered once with Fastify (components of /openapi.json). */
export const ANSWER_SCHEMAS = [
  problemSchema, gpuSchema, bookingSchema, orderSchema, jobSchema, dryRunSchema, releaseSchema, modelPriceSchema, priceHistorySchema,
  ratingSummarySchema, reviewSchema, reviewPageSchema, ratingHistorySchema, balanceSchema, accountSchema, keySchema, newKeySchema,
  ledgerEntrySchema, transactionSchema, offerSchema, minerOfferSchema, bidSchema,
];
