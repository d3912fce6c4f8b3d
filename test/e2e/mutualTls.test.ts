import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import * as grpc from '@grpc/grpc-js';
import { DomainError } from '../../lib/errors';
import { BookingServiceClient } from '../../lib/gen/aitbc/marketplace/v1/booking';
import { type ConnectResponse, MinerServiceClient } from '../../lib/gen/aitbc/marketplace/v1/miner';
import { connect } from '../../lib/grpcClient';
import { waitFor } from '../support/events';
import { makeCertificates, type TestCertificates } from '../support/certificates';
import { http, KEYS, SERVICE_KEYS, startTestMesh, type TestMesh } from '../support/testMesh';

describe('the mesh with mutual TLS between services', function () {
  this.timeout(90_000);
  let certs: TestCertificates;
  let mesh: TestMesh;
  before(async () => {
    certs = makeCertificates();
    mesh = await startTestMesh(certs.env);
  });
  after(async () => {
    await mesh?.stop();
    certs?.remove();
  });

  const tlsOf = (files: { ca: string; cert: string; key: string }) =>
    ({ ca: readFileSync(files.ca, 'utf8'), cert: readFileSync(files.cert, 'utf8'), key: readFileSync(files.key, 'utf8') });
  const bookingWith = (tls?: { ca: string; cert: string; key: string }) =>
    connect(BookingServiceClient, mesh.booking.address, 3000, { key: SERVICE_KEYS.coordinator, tls });
  const codeOf = async (promise: Promise<unknown>) => promise.then(() => 'OK', (err: DomainError) => err.code);

  it('serves the CLI flow through the gateway: register, book, release, review', async () => {
    assert.equal((await http(mesh.url, 'GET', '/readyz')).status, 200);
    const reg = await http(mesh.url, 'POST', '/v1/marketplace/gpu/register', { key: KEYS.provider, body: { gpu: { name: 'A100', memory_gb: 80, price_per_hour: 2 } } });
    assert.equal(reg.status, 201);
    const book = await http(mesh.url, 'POST', `/v1/marketplace/gpu/${reg.body.gpu_id}/book`, { key: KEYS.client, body: { duration_hours: 1 } });
    assert.equal(book.status, 201, JSON.stringify(book.body));
    const release = await http(mesh.url, 'POST', `/v1/marketplace/gpu/${reg.body.gpu_id}/release`, { key: KEYS.client });
    assert.equal(release.status, 200);
    assert.equal(release.body.charged + release.body.refund, book.body.total_cost);
    const review = await http(mesh.url, 'POST', `/v1/marketplace/gpu/${reg.body.gpu_id}/reviews`, { key: KEYS.client, body: { rating: 5 } });
    assert.equal(review.status, 201);
  });

  it('refuses plaintext, a client without a certificate and one from another CA; takes the mesh certificate', async () => {
    const own = tlsOf({ ca: certs.env.GRPC_TLS_CA, cert: certs.env.GRPC_TLS_CERT, key: certs.env.GRPC_TLS_KEY });
    const request = { requirements: undefined };
    const plain = bookingWith();
    assert.equal(await codeOf(plain.client.findAvailableGpu(request)), 'UNAVAILABLE');
    plain.close();
    const anonymous = new BookingServiceClient(mesh.booking.address, grpc.credentials.createSsl(Buffer.from(own.ca)));
    const anonymousCode = await new Promise<number>((resolve) => anonymous.findAvailableGpu(request, new grpc.Metadata(),
      { deadline: new Date(Date.now() + 3000) }, (err) => resolve(err?.code ?? grpc.status.OK)));
    anonymous.close();
    assert.equal(anonymousCode, grpc.status.UNAVAILABLE, 'no client certificate, no handshake');
    const stranger = bookingWith({ ...tlsOf(certs.stranger), ca: own.ca });
    assert.equal(await codeOf(stranger.client.findAvailableGpu(request)), 'UNAVAILABLE');
    stranger.close();
    const member = bookingWith(own);
    assert.equal(await codeOf(member.client.findAvailableGpu(request)), 'OK');
    member.close();
  });

  it('keeps the miner port on TLS without client certificates: a provider key over TLS is enough', async () => {
    const ca = readFileSync(certs.env.GRPC_TLS_CA);
    const open = (credentials: grpc.ChannelCredentials) => {
      const client = new MinerServiceClient(mesh.registry.publicAddress!, credentials);
      const metadata = new grpc.Metadata();
      metadata.set('authorization', `Bearer ${KEYS.provider}`);
      const stream = client.connect(metadata);
      const received: ConnectResponse[] = [];
      let code: number | undefined;
      stream.on('data', (m: ConnectResponse) => received.push(m));
      stream.on('error', (err: grpc.ServiceError) => (code = err.code));
      stream.write({ kind: { $case: 'hello', value: { minerId: 'tls-rig', agentVersion: 't', gpus: [
        { uuid: 'GPU-tls-1', model: 'L4', memoryGb: 24, cudaCores: 0, cudaVersion: '', driverVersion: '', computeCapability: '', region: '', pricePerHourMicro: 500_000 },
      ] } } });
      return { client, stream, received, code: () => code };
    };
    const secure = open(grpc.credentials.createSsl(ca));
    await waitFor(() => secure.received.length > 0 || secure.code() !== undefined, 5000, 'a welcome over TLS');
    assert.equal(secure.received[0]?.kind?.$case, 'welcome');
    secure.stream.end();
    secure.client.close();
    const plain = open(grpc.credentials.createInsecure());
    await waitFor(() => plain.code() !== undefined, 5000, 'plaintext to fail');
    assert.equal(plain.code(), grpc.status.UNAVAILABLE);
    plain.client.close();
  });
});
