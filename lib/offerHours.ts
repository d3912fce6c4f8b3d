/**
 * Whether a booking of `seconds` fits an offer's hours (inclusive; null bounds: no offer, any
 * length). One rule for booking, which refuses, and the market, which looks elsewhere.
 */
export function withinOfferHours(seconds: number, minHours: number | null, maxHours: number | null): boolean {
  if (minHours === null || maxHours === null) return true;
  return seconds >= Math.round(minHours * 3600) && seconds <= Math.round(maxHours * 3600);
}
