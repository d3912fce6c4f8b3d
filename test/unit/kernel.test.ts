import assert from 'node:assert/strict';
import { Metadata, status, type ServiceError } from '@grpc/grpc-js';
import { ConfigError, ConfigReader, isTarget, readConfig, readSubjectPrefix } from '../../lib/config';
import { startupFailureText } from '../../lib/lifecycle';
import { DomainError, type ErrorCode, fromGrpcError, HTTP_STATUS, toGrpcError } from '../../lib/errors';
import { isId, newId } from '../../lib/ids';
import { commonFilter } from '../../lib/events/natsBus';
import { readRegistryConfig, startRegistry } from '../../services/registry/src/main';
import { createLogger } from '../../lib/logger';
import { readGatewayConfig } from '../../gateway/src/main';
import { KEY_LIST } from '../support/testMesh';

describe('config', () => {
  it('reads typed values with defaults', () => {
    const r = new ConfigReader({ A: '7', U: 'postgres://x@h/db' });
    assert.equal(r.int('A', 1, 0, 10), 7);
    assert.equal(r.int('B', 3, 0, 10), 3);
    assert.equal(r.url('U', ['postgres:']), 'postgres://x@h/db');
    r.done();
  });

  it('collects every problem into one readable error', () => {
    const r = new ConfigReader({ A: 'x', B: '99', U: 'mysql://h', E: 'maybe' });
    r.int('A', 1, 0, 10);
    r.int('B', 1, 0, 10);
    r.url('U', ['postgres:']);
    r.oneOf('E', 'yes', ['yes', 'no']);
    r.string('REQ');
    assert.throws(() => r.done(), (err: ConfigError) => {
      assert.equal(err.problems.length, 5);
      assert.match(err.message, /A must be an integer, got "x"/);
      assert.match(err.message, /B must be between 0 and 10, got 99/);
      assert.match(err.message, /U must use postgres:/);
      assert.match(err.message, /E must be one of yes, no/);
      assert.match(err.message, /REQ is required/);
      return true;
    });
  });

  it('validates the registry and gateway settings at start-up', () => {
    assert.throws(() => readRegistryConfig({}), /DATABASE_URL is required/);
    assert.throws(() => readRegistryConfig({}), /AITBC_API_KEYS is required/);
    const base = { DATABASE_URL: 'postgres://h/d', AITBC_API_KEYS: KEY_LIST };
    assert.throws(() => readRegistryConfig({ ...base, HEARTBEAT_TTL_SECONDS: '10', HEARTBEAT_INTERVAL_SECONDS: '10' }),
      /HEARTBEAT_INTERVAL_SECONDS must be shorter/);
    assert.throws(() => readRegistryConfig({ ...base, DEFAULT_PRICE_PER_HOUR: '-1' }), /DEFAULT_PRICE_PER_HOUR/);
    const ok = readRegistryConfig({ ...base, HEARTBEAT_TTL_SECONDS: '30' });
    assert.equal(ok.heartbeatIntervalSeconds, 10);
    assert.equal(ok.defaultPriceMicro, 1_000_000);
    assert.throws(() => readGatewayConfig({}), /AITBC_API_KEYS is required/);
    assert.throws(() => readGatewayConfig({ AITBC_API_KEYS: 'root:x:longenoughkey-longenoughkey' }), /role must be client, provider, admin or service/);
    assert.throws(() => readGatewayConfig({ AITBC_API_KEYS: 'client:x:short' }), /key must be at least 24 characters, got 5/);
    assert.throws(() => readGatewayConfig({ AITBC_API_KEYS: `client:x:${'k'.repeat(24)}` }), /AITBC_SERVICE_KEY is required \(or a service:gateway:KEY entry/);
    assert.doesNotThrow(() => readGatewayConfig({ AITBC_API_KEYS: KEY_LIST }));
  });
});

describe('errors', () => {
  it('maps every domain code to gRPC and back, keeping field and details', () => {
    const codes = Object.keys(HTTP_STATUS) as ErrorCode[];
    for (const code of codes) {
      const grpcErr = toGrpcError(new DomainError(code, 'why', 'the.field', { quote: 5 }));
      const back = fromGrpcError({ ...grpcErr, message: '', name: 'x' } as ServiceError);
      assert.equal(back.code, code);
      assert.equal(back.message, 'why');
      assert.equal(back.field, 'the.field');
      assert.deepEqual(back.details, { quote: 5 });
    }
  });

  it('hides unknown errors and transport failures behind fixed texts (a handler\'s own UNAVAILABLE keeps its text, above)', () => {
    assert.deepEqual(toGrpcError(new Error('password=hunter2')), { code: status.INTERNAL, details: 'internal error' });
    const down = fromGrpcError({ code: status.UNAVAILABLE, details: 'No connection established. Last error: ECONNREFUSED 127.0.0.1:1', metadata: new Metadata() } as ServiceError);
    assert.equal(down.code, 'UNAVAILABLE');
    assert.equal(down.message, 'a backing service is unavailable');
  });

  it('maps gRPC codes to the HTTP statuses of ARCHITECTURE.md', () => {
    assert.deepEqual(HTTP_STATUS, {
      INVALID_ARGUMENT: 400, UNAUTHENTICATED: 401, PERMISSION_DENIED: 403, NOT_FOUND: 404, ALREADY_EXISTS: 409,
      FAILED_PRECONDITION: 409, ABORTED: 409, RESOURCE_EXHAUSTED: 429, UNAVAILABLE: 503, DEADLINE_EXCEEDED: 504, INTERNAL: 500,
    });
  });
});

describe('ids', () => {
  it('are opaque, prefixed and unique', () => {
    const ids = new Set(Array.from({ length: 10_000 }, () => newId('gpu')));
    assert.equal(ids.size, 10_000);
    for (const id of ids) assert.ok(isId(id, 'gpu'), id);
    assert.ok(!isId('gpu_short'));
    assert.ok(!isId(newId('bkg'), 'gpu'));
  });
});

describe('services without NATS', () => {
  it('refuse to start on their own without NATS_URL, saying why', async () => {
    await assert.rejects(
      startRegistry(readRegistryConfig({ DATABASE_URL: 'postgres://nobody@127.0.0.1:1/none', AITBC_API_KEYS: KEY_LIST }), createLogger('t', 'silent')),
      (err: ConfigError) => {
        assert.equal(err.name, 'ConfigError');
        assert.match(err.message, /NATS_URL is required to run the registry on its own/);
        return true;
      },
    );
  });
});

describe('NATS consumer filters', () => {
  it('cover several subjects with their narrowest common wildcard', () => {
    assert.equal(commonFilter(['aitbc.gpu.>']), 'aitbc.gpu.>');
    assert.equal(commonFilter(['aitbc.booking.created', 'aitbc.booking.ended']), 'aitbc.booking.>');
    assert.equal(commonFilter(['aitbc.gpu.status_changed', 'aitbc.booking.ended']), 'aitbc.>');
    assert.equal(commonFilter(['aitbc.gpu.>', 'aitbc.gpu.registered']), 'aitbc.gpu.>');
    assert.equal(commonFilter(['a.x', 'b.y']), '>');
  });
});

describe('start-up failures in words', () => {
  it('says what to fix for a host that is not this machine, a dependency that is down, a taken port', () => {
    const text = (message: string) => startupFailureText(new Error(message));
    assert.equal(text('No address added out of total 1 resolved errors: [listen EADDRNOTAVAIL: address not available 8.8.8.8:19052]'),
      'cannot listen on 8.8.8.8:19052: it is not an address of this machine (check the *_HOST variables)');
    assert.equal(text('Name resolution failed for target dns:nohost.invalid:19052'),
      'cannot listen on nohost.invalid:19052: it is not an address of this machine (check the *_HOST variables)');
    assert.equal(text('connect ECONNREFUSED 127.0.0.1:1'), 'connect ECONNREFUSED 127.0.0.1:1 (is it running? check DATABASE_URL and NATS_URL)');
    assert.match(text('cannot reach NATS at nats://127.0.0.1:1: CONNECTION_REFUSED'), /^cannot reach NATS .* \(is it running\?/);
    assert.match(text('listen EADDRINUSE: address already in use 127.0.0.1:8080'), /^cannot listen on 127.0.0.1:8080: the port is already in use/);
    assert.match(text('something else'), /^Error: something else\n\s+at /, 'anything else keeps its stack');
  });

  it('refuses gRPC targets and NATS prefixes that would start and then fail', () => {
    for (const ok of ['127.0.0.1:50052', 'booking:50052', 'dns:///booking:50052', 'ipv4:127.0.0.1:7140,127.0.0.1:7141', '[::1]:50052', 'unix:/tmp/s', 'none']) {
      assert.ok(isTarget(ok), ok);
    }
    for (const bad of ['::::', 'http://x:1', 'host', 'host:0', 'host:70000', 'ipv4:127.0.0.1', 'a b:1', '']) assert.ok(!isTarget(bad), bad);
    assert.throws(() => readConfig({ NATS_SUBJECT_PREFIX: 'a b' }, (r) => readSubjectPrefix(r)), /NATS_SUBJECT_PREFIX must be letters/);
    assert.throws(() => readConfig({ NATS_SUBJECT_PREFIX: 'x>' }, (r) => readSubjectPrefix(r)), /NATS_SUBJECT_PREFIX/);
    assert.equal(readConfig({ NATS_SUBJECT_PREFIX: 'adv.team-1' }, (r) => readSubjectPrefix(r)), 'adv.team-1');
  });
});
