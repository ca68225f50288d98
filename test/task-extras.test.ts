import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DEFAULTS } from '../src/config/defaults.js';
import { HxError } from '../src/errors.js';
import { prefersJpeg, taskExtras } from '../src/protocol/http/task-extras.js';

describe('task extras: stream key and annotated answers', () => {
  it('image/jpeg wins only when preferred to application/json', () => {
    assert.equal(prefersJpeg(undefined), false);
    assert.equal(prefersJpeg('application/json'), false);
    assert.equal(prefersJpeg('application/json, */*'), false, 'what pipelines send');
    assert.equal(prefersJpeg('*/*'), false);
    assert.equal(prefersJpeg('image/jpeg'), true);
    assert.equal(prefersJpeg('image/*'), true);
    assert.equal(prefersJpeg('application/json;q=0.5, image/jpeg'), true);
    assert.equal(prefersJpeg('image/jpeg;q=0.4, application/json'), false);
    assert.equal(prefersJpeg('image/jpeg;q=0'), false);
  });

  it('the stream comes from ?stream=, else x-stream-id; an unsafe id is refused, never merged into another', () => {
    const routes = DEFAULTS.routes;
    assert.deepEqual(taskExtras(routes, '/motion', { 'x-stream-id': 'h' }, { stream: 'q' }), {
      stream: 'q',
      image: false,
    });
    assert.deepEqual(taskExtras(routes, '/motion', { 'x-stream-id': 'h' }, {}), { stream: 'h', image: false });
    for (const unsafe of ['a b', 'x'.repeat(129), 'tab\there']) {
      assert.throws(
        () => taskExtras(routes, '/motion', {}, { stream: unsafe }),
        (e: unknown) => e instanceof HxError && e.code === 'HX_ERR_HTTP_BAD_STREAM' && e.status === 400,
        JSON.stringify(unsafe),
      );
    }
    assert.deepEqual(taskExtras(routes, '/motion', {}, {}), { stream: '', image: false });
  });

  it('the default /annotate route always renders; /detect renders when asked by Accept', () => {
    const routes = DEFAULTS.routes;
    assert.deepEqual(taskExtras(routes, '/annotate', {}, {}), { stream: '', image: true });
    assert.deepEqual(taskExtras(routes, '/detect', {}, {}), { stream: '', image: false });
    assert.deepEqual(taskExtras(routes, '/detect', { accept: 'image/jpeg' }, {}), { stream: '', image: true });
  });

  it('the default routes serve the built-in AI processors', () => {
    assert.deepEqual(
      DEFAULTS.routes.map((r) => [r.path, r.processor]),
      [
        ['/score', 'colorIntensity'],
        ['/detect', 'objectDetection'],
        ['/annotate', 'objectDetection'],
        ['/motion', 'motion'],
        ['/ocr', 'ocr'],
      ],
    );
  });
});
