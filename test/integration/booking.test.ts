import assert from 'node:assert/strict';
import { Role } from '../../lib/caller';
import { DomainError } from '../../lib/errors';
import type { Delivery } from '../../lib/events/bus';
import { EventEnvelope, newEvent } from '../../lib/events/envelope';
import { connectNatsBus } from '../../lib/events/natsBus';
import { BookingServiceClient, BookingStatus, JobOutcome } from '../../lib/gen/aitbc/marketplace/v1/booking';
import { GpuSpec, GpuStatus, RegistryServiceClient } from '../../lib/gen/aitbc/marketplace/v1/registry';
import { type ClientHandle } from '../../lib/grpcClient';
import { createLogger } from '../../lib/logger';
import type { RunningService } from '../../lib/service';
import { readBookingConfig, startBooking } from '../../services/booking/src/main';
import { idempotencyStore } from '../../services/booking/src/idempotencyStore';
import { readRegistryConfig, startRegistry } from '../../services/registry/src/main';
import { deleteStream, NATS_URL, recordEvents, testPrefix, waitFor } from '../support/events';
import { createTestDatabase, type TestDatabase } from '../support/testDatabase';
import { LOG_LEVEL, testClient, KEY_LIST } from '../support/testMesh';

const provider = { accountId: 'acme', role: Role.ROLE_PROVIDER };
const coordinator = { accountId: 'coordinator', role: Role.ROLE_SERVICE };
const client = { accountId: 'alice', role: Role.ROLE_CLIENT };

describe('booking service over gRPC, two replicas on one database', function () {
  this.timeout(60_000);
  let database: TestDatabase;
  let prefix: string;
  let registry: RunningService;
  const replicas: RunningService[] = [];
  let registryClient: ClientHandle<RegistryServiceClient>;
  let bookingA: ClientHandle<BookingServiceClient>;
  let bookingB: ClientHandle<BookingServiceClient>;
  let ended: Delivery[];
  let recorder: { stop(): Promise<void> };

  const gpu = async (model: string, priceMicro: number, region = 'eu-west') =>
    (await registryClient.client.registerGpu({ caller: provider, minerId: 'rig', spec: GpuSpec.fromPartial({ model, memoryGb: 80, pricePerHourMicro: priceMicro, region }) })).gpu!;

  before(async () => {
    database = await createTestDatabase();
    prefix = testPrefix();
    const env = { NATS_URL, NATS_SUBJECT_PREFIX: prefix };
    registry = await startRegistry(readRegistryConfig({ ...env, REGISTRY_PORT: '0', MINER_PORT: '0' }, { databaseUrl: database.url, apiKeys: KEY_LIST }), createLogger('registry', LOG_LEVEL));
    for (let i = 0; i < 2; i++) {
      replicas.push(await startBooking(
        readBookingConfig({ ...env, BOOKING_PORT: '0', PRICING_ADDR: 'none', ACCOUNTS_ADDR: 'none' }, { databaseUrl: database.url, apiKeys: KEY_LIST, registryAddr: registry.address }),
        createLogger(`booking-${i}`, LOG_LEVEL),
      ));
    }
    registryClient = testClient(RegistryServiceClient, registry.address, 5000);
    bookingA = testClient(BookingServiceClient, replicas[0].address, 5000);
    bookingB = testClient(BookingServiceClient, replicas[1].address, 5000);
    const recording = await recordEvents(prefix, ['booking.ended']);
    ({ seen: ended } = recording);
    recorder = recording;
  });
  after(async () => {
    await recorder?.stop();
    registryClient?.close();
    bookingA?.close();
    bookingB?.close();
    for (const r of replicas) await r.stop();
    await registry?.stop();
    await deleteStream(prefix);
    await database?.drop();
  });

  it('expires each booking exactly once with two replicas sweeping', async () => {
    const gpus = await Promise.all(Array.from({ length: 40 }, () => gpu('L4', 800_000)));
    const bookings = await Promise.all(gpus.map((g, i) => (i % 2 ? bookingA : bookingB).client.createBooking({
      caller: client, gpuId: g.id, durationHours: 2 / 3600, jobId: '', dryRun: false, idempotencyKey: '', clientId: '',
    })));
    const ids = new Set(bookings.map((b) => b.booking!.bookingId));
    await waitFor(() => [...ids].every((id) => ended.some((d) => d.envelope.aggregateId === id)), 10_000, 'all booking.ended');
    await new Promise((r) => setTimeout(r, 500));
    const mine = ended.filter((d) => ids.has(d.envelope.aggregateId));
    assert.equal(mine.length, 40, 'one booking.ended per booking');
    const rows = await replicas[0].db('bookings').whereIn('booking_id', [...ids]);
    assert.ok(rows.every((r: { status: string; end_reason: string }) => r.status === 'completed' && r.end_reason === 'expired'));
  });

  it('refuses racing bookings of one window through two replicas as overlaps, never as a deadlock', async () => {
    const g = await gpu('L4', 800_000);
    for (let round = 0; round < 3; round++) {
      const results = await Promise.allSettled(Array.from({ length: 60 }, (_, i) => (i % 2 ? bookingA : bookingB).client.createBooking({
        caller: client, gpuId: g.id, durationHours: 1, jobId: '', dryRun: false, idempotencyKey: '', clientId: '',
      })));
      const won = results.filter((r) => r.status === 'fulfilled') as PromiseFulfilledResult<{ booking?: { bookingId: string } }>[];
      assert.equal(won.length, 1, `round ${round}`);
      const lost = results.filter((r) => r.status === 'rejected').map((r) => (r as PromiseRejectedResult).reason as DomainError);
      assert.deepEqual(lost.filter((e) => !/already booked until|you already hold booking/.test(e.message)).map((e) => `${e.code}: ${e.message}`), [], `round ${round}`);
      await bookingA.client.releaseBooking({ caller: client, bookingId: won[0].value.booking!.bookingId, gpuId: '' });
    }
  });

  it('lets the coordinator find the cheapest match, book it for a job (once), and end the job', async () => {
    await gpu('H100 80GB', 4_000_000, 'us-east');
    const cheap = await gpu('H100 80GB', 3_000_000, 'us-east');
    await gpu('H100 80GB', 2_000_000, 'eu-west'); // wrong region
    const requirements = { model: 'h100', memoryMin: 80, region: 'us-east', maxPricePerHourMicro: 3_500_000 };
    const found = await bookingA.client.findAvailableGpu({ caller: coordinator, requirements });
    assert.deepEqual(found.gpus.map((g) => g.id), [cheap.id]);

    const request = { caller: coordinator, jobId: 'job-7', clientId: 'carol', requirements, durationHours: 1, idempotencyKey: '' };
    const first = await bookingA.client.bookForJob(request);
    assert.equal(first.booking!.gpuId, cheap.id);
    assert.equal(first.booking!.clientId, 'carol');
    assert.equal(first.replayed, false);
    const again = await bookingB.client.bookForJob(request);
    assert.equal(again.booking!.bookingId, first.booking!.bookingId);
    assert.equal(again.replayed, true);

    const endedJob = await bookingB.client.endJob({ caller: coordinator, bookingId: first.booking!.bookingId, outcome: JobOutcome.JOB_OUTCOME_MINER_FAILED });
    assert.equal(endedJob.booking!.status, BookingStatus.BOOKING_STATUS_CANCELLED);
    assert.equal(endedJob.booking!.chargedMicro, 0);
    assert.equal(endedJob.booking!.refundMicro, 3_000_000);
    assert.equal(endedJob.booking!.endReason, 'job_failed_miner');

    // The registry frees the GPU when booking.ended reaches it (within a second).
    // (Both events must have arrived: before booking.created there is no current booking either.)
    await waitFor(async () => {
      const { gpu: seen } = await registryClient.client.getGpu({ caller: client, id: cheap.id });
      return seen!.totalBookings === 1 && seen!.currentBookingId === '';
    }, 3000, 'GPU freed');
    const second = await bookingA.client.bookForJob({ ...request, jobId: 'job-8' });
    await new Promise((r) => setTimeout(r, 1100));
    const done = await bookingA.client.endJob({ caller: coordinator, bookingId: second.booking!.bookingId, outcome: JobOutcome.JOB_OUTCOME_COMPLETED });
    assert.equal(done.booking!.status, BookingStatus.BOOKING_STATUS_RELEASED);
    assert.ok(done.booking!.chargedMicro > 0);
    assert.equal(done.booking!.chargedMicro + done.booking!.refundMicro, done.booking!.totalCostMicro);
  });

  it('gives ten parallel BookForJob calls for one job one booking: the first, and nine replays of it', async () => {
    await Promise.all(Array.from({ length: 4 }, () => gpu('RTX 6000 Ada', 900_000, 'ap-south')));
    const request = {
      caller: coordinator, jobId: 'job-race', clientId: 'dave', durationHours: 1, idempotencyKey: '',
      requirements: { model: 'rtx 6000 ada', memoryMin: 0, region: 'ap-south' },
    };
    const live: { booking_id: string }[] = [];
    // Several rounds: the race (and the deadlocks it can cause) is not the same every time.
    for (let round = 0; round < 3; round++) {
      const jobId = round ? `job-race-${round}` : 'job-race';
      const answers = await Promise.all(Array.from({ length: 10 }, (_, i) => (i % 2 ? bookingA : bookingB).client.bookForJob({ ...request, jobId })));
      const rows = await replicas[0].db('bookings').where({ client_id: 'dave', job_id: jobId, status: 'active' });
      assert.equal(rows.length, 1, 'one live booking: the client pays once');
      assert.equal(answers.filter((a) => !a.replayed).length, 1);
      assert.equal(answers.filter((a) => a.replayed).length, 9);
      assert.ok(answers.every((a) => a.booking!.bookingId === rows[0].booking_id));
      live.push(rows[0]);
    }
    // The same job through CreateBooking is refused, naming the booking it holds.
    await assert.rejects(bookingA.client.createBooking({
      caller: coordinator, clientId: 'dave', gpuId: (await gpu('RTX 6000 Ada', 900_000, 'ap-south')).id, durationHours: 1,
      jobId: 'job-race', dryRun: false, idempotencyKey: '',
    }), (err: DomainError) => err.code === 'ALREADY_EXISTS' && err.field === 'job_id' && err.message.includes(live[0].booking_id));
    // Once it ends, the job may book again.
    await bookingA.client.endJob({ caller: coordinator, bookingId: live[0].booking_id, outcome: JobOutcome.JOB_OUTCOME_COMPLETED });
    assert.equal((await bookingB.client.bookForJob(request)).replayed, false);
  });

  it('cancels a reservation whose GPU is offline when its window opens, refunding it in full; one whose GPU came back stays', async () => {
    const reserve = async (minerId: string) => {
      const g = (await registryClient.client.registerGpu({
        caller: provider, minerId, spec: GpuSpec.fromPartial({ model: 'L40S', memoryGb: 48, pricePerHourMicro: 1_800_000, uuid: `GPU-${minerId}` }),
      })).gpu!;
      await registryClient.client.minerHeartbeat({ caller: provider, minerId, online: true });
      return (await bookingA.client.createBooking({
        caller: client, gpuId: g.id, durationHours: 1, startTime: new Date(Date.now() + 2500), jobId: '', dryRun: false, idempotencyKey: '', clientId: '',
      })).booking!;
    };
    const gone = await reserve('rsv-gone');
    const back = await reserve('rsv-back');
    await registryClient.client.minerHeartbeat({ caller: provider, minerId: 'rsv-gone', online: false });
    await registryClient.client.minerHeartbeat({ caller: provider, minerId: 'rsv-back', online: false });
    await new Promise((r) => setTimeout(r, 300));
    await registryClient.client.minerHeartbeat({ caller: provider, minerId: 'rsv-back', online: true });
    const rowOf = (id: string) => replicas[0].db('bookings').where({ booking_id: id }).first();
    assert.equal((await rowOf(gone.bookingId)).status, 'active', 'not before its window opens');
    await waitFor(async () => (await rowOf(gone.bookingId)).status !== 'active', 6000, 'the reservation to end');
    const row = await rowOf(gone.bookingId);
    assert.equal(row.status, 'cancelled');
    assert.equal(row.end_reason, 'gpu_offline');
    assert.equal(Number(row.charged_micro), 0);
    assert.equal(Number(row.refund_micro), Number(row.total_cost_micro));
    assert.equal(Number(row.refund_micro), 1_800_000);
    assert.ok(row.ended_at >= row.created_at, 'ended no earlier than it was made');
    await waitFor(() => ended.some((d) => d.envelope.aggregateId === gone.bookingId), 3000, 'its booking.ended event');
    await new Promise((r) => setTimeout(r, 500));
    const kept = await rowOf(back.bookingId);
    assert.equal(kept.status, 'active');
    assert.equal(kept.window_checked, true);
  });

  it('settles a booking cancelled by its GPU going offline as of its last heartbeat or the event, however late the event arrives', async () => {
    const bus = await connectNatsBus({ url: NATS_URL, prefix, name: 'test-registry', logger: createLogger('test', LOG_LEVEL) });
    try {
      // 3.6 AITBC an hour: 1,000 micro a second.
      const book = async () => {
        const g = await gpu('A10', 3_600_000);
        return (await bookingA.client.createBooking({
          caller: client, gpuId: g.id, durationHours: 1, jobId: '', dryRun: false, idempotencyKey: '', clientId: '',
        })).booking!;
      };
      const offline = (gpuId: string, occurredAt: Date, lastHeartbeatAt?: Date) => {
        const envelope = newEvent('gpu.status_changed', 'registry', gpuId, {
          gpuId, ownerId: 'acme', minerId: 'rig', model: 'A10', previousStatus: GpuStatus.GPU_STATUS_AVAILABLE,
          status: GpuStatus.GPU_STATUS_OFFLINE, reason: 'heartbeat_timeout', lastHeartbeatAt,
        });
        envelope.occurredAt = occurredAt;
        return { id: envelope.eventId, subject: bus.subject(envelope.type), aggregateId: gpuId, data: EventEnvelope.encode(envelope).finish() };
      };
      const running = await book();
      const silent = await book();
      // Went offline 1 s after the start; the event reaches booking well after that.
      await new Promise((r) => setTimeout(r, 2500));
      const started = running.startTime!.getTime();
      // Booked just after the GPU went offline (before the registry said so): refunded in full.
      const late = await book();
      // Booked well after the registry declared its GPU offline (so after it came back): an
      // offline event reaching booking only now leaves it alone.
      const rebooked = await book();
      const rebookedAt = rebooked.startTime!.getTime();
      await bus.publish([
        offline(rebooked.gpuId, new Date(rebookedAt - 10_000), new Date(rebookedAt - 12_000)),
        offline(running.gpuId, new Date(started + 1000)),
        offline(late.gpuId, new Date(late.startTime!.getTime() - 1000)),
        // Declared offline 2 s after its last heartbeat (the TTL): paid up to the heartbeat.
        offline(silent.gpuId, new Date(silent.startTime!.getTime() + 2000), new Date(silent.startTime!.getTime() + 1000)),
      ]);
      const rowOf = async (id: string) => replicas[0].db('bookings').where({ booking_id: id }).first();
      await waitFor(async () => (await Promise.all([running, late, silent].map((b) => rowOf(b.bookingId)))).every((r) => r.status === 'cancelled'), 5000, 'cancelled');
      const a = await rowOf(running.bookingId);
      assert.equal(a.end_reason, 'gpu_offline');
      assert.equal(Number(a.charged_micro), 1000, 'charged for the one second before the GPU went offline');
      assert.equal(Number(a.refund_micro), 3_599_000);
      assert.equal(a.ended_at.getTime(), started + 1000);
      const b = await rowOf(late.bookingId);
      assert.equal(Number(b.charged_micro), 0);
      assert.equal(Number(b.refund_micro), 3_600_000);
      // As of its start, or when it was made if that came a moment later: never before it was made.
      assert.equal(b.ended_at.getTime(), Math.max(late.startTime!.getTime(), b.created_at.getTime()));
      assert.equal((await rowOf(rebooked.bookingId)).status, 'active', 'a booking made after the GPU came back stays');
      const c = await rowOf(silent.bookingId);
      assert.equal(Number(c.charged_micro), 1000, 'charged up to the last heartbeat, not the TTL after it');
      assert.equal(c.ended_at.getTime(), silent.startTime!.getTime() + 1000);
    } finally {
      await bus.close();
    }
  });

  it('gives up on a booking row locked past the database deadline with UNAVAILABLE, changing nothing', async () => {
    const impatient = await startBooking(
      readBookingConfig({ NATS_URL, NATS_SUBJECT_PREFIX: prefix, BOOKING_PORT: '0', PRICING_ADDR: 'none', ACCOUNTS_ADDR: 'none', DB_STATEMENT_TIMEOUT_MS: '300' },
        { databaseUrl: database.url, apiKeys: KEY_LIST, registryAddr: registry.address }),
      createLogger('booking-impatient', LOG_LEVEL),
    );
    const rpc = testClient(BookingServiceClient, impatient.address, 5000);
    const holder = await replicas[0].db.transaction();
    try {
      const g = await gpu('L4', 800_000);
      const { booking } = await rpc.client.createBooking({
        caller: client, gpuId: g.id, durationHours: 1, jobId: '', dryRun: false, idempotencyKey: '', clientId: '',
      });
      // Another transaction holds the booking's row (a stuck session, say).
      await holder('bookings').where({ booking_id: booking!.bookingId }).forUpdate();
      // Without the database deadline this would wait for the lock until the client's own
      // 5 s deadline (DEADLINE_EXCEEDED), not come back UNAVAILABLE.
      await assert.rejects(rpc.client.confirmBooking({ caller: client, bookingId: booking!.bookingId, gpuId: '' }),
        (err: DomainError) => err.code === 'UNAVAILABLE' && /did not answer in time; nothing was changed/.test(err.message));
      await holder.rollback();
      assert.equal((await replicas[0].db('bookings').where({ booking_id: booking!.bookingId }).first()).confirmed_at, null);
      const confirmed = await rpc.client.confirmBooking({ caller: client, bookingId: booking!.bookingId, gpuId: '' });
      assert.ok(confirmed.booking!.confirmedAt, 'the retry goes through');
    } finally {
      if (!holder.isCompleted()) await holder.rollback();
      rpc.close();
      await impatient.stop();
    }
  });

  it('keeps Idempotency-Keys two days, then forgets them', async () => {
    const db = replicas[0].db;
    const hour = 3600_000;
    await db('idempotency_keys').insert([
      { account_id: 'prune', key: 'fresh', request_hash: 'h', created_at: new Date(Date.now() - 47 * hour) },
      ...Array.from({ length: 3 }, (_, i) => ({ account_id: 'prune', key: `stale-${i}`, request_hash: 'h', created_at: new Date(Date.now() - 49 * hour) })),
    ]);
    assert.equal(await idempotencyStore.prune(db, 48 * hour), 3);
    assert.deepEqual((await db('idempotency_keys').where({ account_id: 'prune' })).map((r: { key: string }) => r.key), ['fresh']);
  });

  it("keeps a service to the bookings it made: a client's own booking, or another service's, is not the coordinator's to see or end", async () => {
    const expect = async (p: Promise<unknown>, code: string) => {
      await assert.rejects(p, (err: DomainError) => err instanceof DomainError && err.code === code, code);
    };
    const own = (await bookingA.client.createBooking({
      caller: client, gpuId: (await gpu('A4000', 400_000)).id, durationHours: 1, jobId: '', dryRun: false, idempotencyKey: '', clientId: '',
    })).booking!;
    const id = own.bookingId;
    await expect(bookingA.client.getBooking({ caller: coordinator, bookingId: id }), 'NOT_FOUND');
    await expect(bookingA.client.releaseBooking({ caller: coordinator, bookingId: id, gpuId: '' }), 'NOT_FOUND');
    await expect(bookingA.client.confirmBooking({ caller: coordinator, bookingId: id, gpuId: '' }), 'NOT_FOUND');
    await expect(bookingA.client.endJob({ caller: coordinator, bookingId: id, outcome: JobOutcome.JOB_OUTCOME_MINER_FAILED }), 'NOT_FOUND');
    // A job id the client used on its own booking: the coordinator learns nothing of that booking.
    const clientJob = (await bookingA.client.createBooking({
      caller: client, gpuId: (await gpu('A4000', 400_000)).id, durationHours: 1, jobId: 'job-of-alice', dryRun: false, idempotencyKey: '', clientId: '',
    })).booking!;
    await assert.rejects(bookingA.client.bookForJob({ caller: coordinator, jobId: 'job-of-alice', clientId: 'alice', durationHours: 1, idempotencyKey: '' }),
      (err: DomainError) => err.code === 'FAILED_PRECONDITION' && !err.message.includes(clientJob.bookingId));
    await assert.rejects(bookingA.client.createBooking({
      caller: coordinator, clientId: 'alice', gpuId: (await gpu('A4000', 400_000)).id, durationHours: 1, jobId: 'job-of-alice', dryRun: false, idempotencyKey: '',
    }), (err: DomainError) => err.code === 'ALREADY_EXISTS' && !err.message.includes(clientJob.bookingId) && err.details?.booking_id === undefined);
    await expect(bookingA.client.listOrders({ caller: coordinator, limit: 10, cursor: '', status: 99 as never, minerId: '' }), 'INVALID_ARGUMENT');
    const orders = await bookingA.client.listOrders({ caller: coordinator, limit: 500, cursor: '', status: 0, minerId: '' });
    assert.ok(!orders.orders.some((o) => o.bookingId === id), "a client's booking is not in the coordinator's orders");
    // The coordinator's own job booking: another service may not end it; EndJob needs a job.
    const job = (await bookingA.client.createBooking({
      caller: coordinator, clientId: 'erin', gpuId: (await gpu('A4000', 400_000)).id, durationHours: 1, jobId: 'job-own', dryRun: false, idempotencyKey: '',
    })).booking!;
    const other = { accountId: 'booking', role: Role.ROLE_SERVICE };
    await expect(bookingA.client.endJob({ caller: other, bookingId: job.bookingId, outcome: JobOutcome.JOB_OUTCOME_MINER_FAILED }), 'NOT_FOUND');
    // Booking for a client holds its money: only the agents (coordinator, market) may, not any service key.
    const registryKey = { accountId: 'registry', role: Role.ROLE_SERVICE };
    const before = Number((await replicas[0].db('bookings').count({ n: '*' }))[0].n);
    await expect(bookingA.client.createBooking({
      caller: registryKey, clientId: 'erin', gpuId: (await gpu('A4000', 400_000)).id, durationHours: 1, jobId: '', dryRun: false, idempotencyKey: '',
    }), 'PERMISSION_DENIED');
    await expect(bookingA.client.bookForJob({ caller: registryKey, clientId: 'erin', jobId: 'job-forged', durationHours: 1, idempotencyKey: '' }), 'PERMISSION_DENIED');
    assert.equal(Number((await replicas[0].db('bookings').count({ n: '*' }))[0].n), before, 'nothing booked');
    const plain = (await bookingA.client.createBooking({
      caller: coordinator, clientId: 'erin', gpuId: (await gpu('A4000', 400_000)).id, durationHours: 1, jobId: '', dryRun: false, idempotencyKey: '',
    })).booking!;
    await expect(bookingA.client.endJob({ caller: coordinator, bookingId: plain.bookingId, outcome: JobOutcome.JOB_OUTCOME_MINER_FAILED }), 'FAILED_PRECONDITION');
    assert.ok((await bookingA.client.listOrders({ caller: coordinator, limit: 500, cursor: '', status: 0, minerId: '' })).orders.some((o) => o.bookingId === job.bookingId));
    assert.equal((await bookingA.client.endJob({ caller: coordinator, bookingId: job.bookingId, outcome: JobOutcome.JOB_OUTCOME_COMPLETED })).booking!.endReason, 'job_completed');
    // Who a service books for must be an account id: nothing a terminal would act on.
    for (const clientId of ['\u001b[2J\u001b[31mPWNED\u0007', 'x'.repeat(65), 'a b', '\ud800']) {
      await expect(bookingA.client.createBooking({
        caller: coordinator, clientId, gpuId: job.gpuId, durationHours: 1, jobId: '', dryRun: true, idempotencyKey: '',
      }), 'INVALID_ARGUMENT');
      await expect(bookingA.client.bookForJob({ caller: coordinator, clientId, jobId: 'j-bad', durationHours: 1, idempotencyKey: '' }), 'INVALID_ARGUMENT');
    }
  });

  it('refuses coordinator calls from clients, impossible requirements and unknown outcomes', async () => {
    const expect = async (p: Promise<unknown>, code: string) => {
      await assert.rejects(p, (err: DomainError) => err instanceof DomainError && err.code === code);
    };
    await expect(bookingA.client.bookForJob({ caller: client, jobId: 'j', clientId: 'alice', durationHours: 1, idempotencyKey: '' }), 'PERMISSION_DENIED');
    await expect(bookingA.client.bookForJob({
      caller: coordinator, jobId: 'j', clientId: 'carol', durationHours: 1, idempotencyKey: '',
      requirements: { model: 'no-such-gpu', memoryMin: 0, region: '' },
    }), 'FAILED_PRECONDITION');
    await expect(bookingA.client.bookForJob({ caller: coordinator, jobId: '', clientId: 'carol', durationHours: 1, idempotencyKey: '' }), 'INVALID_ARGUMENT');
    const g = await gpu('T4', 300_000);
    const b = await bookingA.client.createBooking({ caller: coordinator, clientId: 'carol', gpuId: g.id, durationHours: 1, jobId: 'x', dryRun: false, idempotencyKey: '' });
    await expect(bookingA.client.endJob({ caller: coordinator, bookingId: b.booking!.bookingId, outcome: JobOutcome.JOB_OUTCOME_UNSPECIFIED }), 'INVALID_ARGUMENT');
  });
});
