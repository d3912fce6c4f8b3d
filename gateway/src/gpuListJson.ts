import fastJson, { type Schema } from 'fast-json-stringify';
import type { Gpu } from '../../lib/gen/aitbc/marketplace/v1/registry';
import { bookingSchema } from './bookingJson';
import { gpuJson, gpuSchema } from './gpuJson';
import { listOf, ref } from './answers';
import type { ReplicaGpu } from './gpuReplicaIndex';

// Rendered with the schema the document gives a GPU (fast-json-stringify, as Fastify renders
// the other answers); a page of GPUs is the same text as its GPUs' JSON joined in brackets.
const schemas = { schema: { Gpu: gpuSchema, Booking: bookingSchema } as unknown as Record<string, Schema> };
/** A page of GPUs as JSON text. */
export const serializeList = fastJson(listOf('Gpu'), schemas);
const serializeGpu = fastJson(ref('Gpu'), schemas);

/** One listed GPU's JSON, as a list renders it. */
export const listedGpuJson = (gpu: Gpu): Buffer => Buffer.from(serializeGpu(gpuJson(gpu)));

/** The same GPU's JSON once a booking began or ended covering now: its status and booking_expires change. */
export function rebookedGpuJson(json: Buffer, booked: boolean, gpu: ReplicaGpu): Buffer {
  const object = JSON.parse(json.toString('utf8'));
  object.status = !gpu.online ? 'offline' : booked ? 'booked' : 'available';
  object.booking_expires = booked && gpu.bookingExpires ? gpu.bookingExpires.toISOString() : null;
  return Buffer.from(serializeGpu(object));
}
