import assert from 'node:assert/strict';
import type { ErrorObject } from 'ajv';
import { describeValidation } from '../../gateway/src/problem';
import { gpuSpecFromBody } from '../../gateway/src/routes/gpuRoutes';

describe('REST body mapping', () => {
  it('accepts the CLI body and the documented aliases', () => {
    const spec = gpuSpecFromBody({ name: 'RTX 4090', memory_gb: 24, cuda_cores: 16384, compute_capability: '8.9', price_per_hour: 0.5, description: 'x' }, 'gpu');
    assert.equal(spec.model, 'RTX 4090');
    assert.equal(spec.memoryGb, 24);
    assert.equal(spec.pricePerHourMicro, 500_000);
    const alias = gpuSpecFromBody({ model: 'A100', memory: 80, compute_capability: 8.0 }, 'gpu');
    assert.equal(alias.model, 'A100');
    assert.equal(alias.memoryGb, 80);
    assert.equal(alias.computeCapability, '8');
  });

  it('names missing and conflicting fields', () => {
    assert.throws(() => gpuSpecFromBody({ memory_gb: 24 }, 'gpu'), /gpu\.name: is required/);
    assert.throws(() => gpuSpecFromBody({ name: 'a' }, 'gpu'), /gpu\.memory_gb: is required/);
    assert.throws(() => gpuSpecFromBody({ name: 'a', model: 'b', memory_gb: 1 }, 'gpu'), /gpu\.model: differs/);
    assert.throws(() => gpuSpecFromBody({ name: 'a', memory_gb: 1, price_per_hour: 0.1234567 }, 'gpu'), /gpu\.price_per_hour/);
  });
});

describe('schema error messages', () => {
  const err = (over: Partial<ErrorObject>): ErrorObject => ({ keyword: 'type', instancePath: '', schemaPath: '', params: {}, ...over });
  it('name the field a person has to fix', () => {
    assert.deepEqual(describeValidation(err({ keyword: 'additionalProperties', instancePath: '/gpu', params: { additionalProperty: 'colour' } }), 'body'),
      { field: 'gpu.colour', detail: 'gpu.colour: unknown field' });
    assert.deepEqual(describeValidation(err({ keyword: 'required', params: { missingProperty: 'gpu' } }), 'body'),
      { field: 'gpu', detail: 'gpu: is required' });
    assert.deepEqual(describeValidation(err({ instancePath: '/gpu/memory_gb', params: { type: 'integer' } }), 'body'),
      { field: 'gpu.memory_gb', detail: 'gpu.memory_gb: must be a whole number' });
    assert.deepEqual(describeValidation(err({ keyword: 'maximum', instancePath: '/limit', params: { limit: 500 }, message: 'must be <= 500' }), 'querystring'),
      { field: 'limit', detail: 'limit: must be at most 500' });
    assert.equal(describeValidation(err({ keyword: 'maxLength', instancePath: '/comment', params: { limit: 2000 } }), 'body').detail,
      'comment: must be at most 2000 characters');
    assert.equal(describeValidation(err({ keyword: 'minLength', instancePath: '/gpu/name', params: { limit: 1 } }), 'body').detail,
      'gpu.name: must not be empty');
    assert.equal(describeValidation(err({ instancePath: '/comment', params: { type: 'string,null' } }), 'body').detail,
      'comment: must be a string or null');
    assert.equal(describeValidation(err({ keyword: 'pattern', instancePath: '/uuid', message: 'must match pattern "^GPU-"' }), 'body').detail,
      'uuid: must match pattern "^GPU-"');
    assert.equal(describeValidation(err({ keyword: 'additionalProperties', params: { additionalProperty: 'colour' } }), 'querystring').detail,
      'colour: unknown query parameter');
    assert.equal(describeValidation(err({ keyword: 'minimum', instancePath: '/capabilities/gpu/1/memory', message: 'must be >= 1' }), 'body').field,
      'capabilities.gpu[1].memory');
  });
});
