import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { flush as settle, track } from '@valve/testkit';
import { describe, expect, it } from 'vitest';
import { gatedSink, recordingSink, setup } from './helpers.js';

describe('writable(): Node object-mode Writable', () => {
  it('pipeline() from a fast source finishes only after every item is flushed, in order', async () => {
    const sink = recordingSink<number>();
    const { controller } = setup(sink.flush, { maxBufferSize: 8, batchSize: 4, strategy: 'block' });
    controller.start();
    const source = Readable.from(Array.from({ length: 100 }, (_, i) => i));
    await pipeline(source, controller.writable());
    expect(sink.written()).toEqual(Array.from({ length: 100 }, (_, i) => i));
    expect(controller.stats()).toMatchObject({ accepted: 100, flushed: 100, dropped: 0, refused: 0 });
  });

  it('pauses the writer while pressured, and resumes on drain when the fill falls to the low watermark', async () => {
    const sink = gatedSink<number>();
    const { controller } = setup(sink.flush, { maxBufferSize: 10, batchSize: 5, strategy: 'drop_newest' });
    const w = controller.writable();
    for (let i = 0; i < 7; i++) expect(w.write(i)).toBe(true);
    expect(w.write(7)).toBe(false);
    const drained = track(new Promise((resolve) => w.once('drain', resolve)));
    controller.start(); // takes [0..4]: 3 left, below the low watermark (5)
    await settle();
    expect(drained.state).toBe('resolved');
    expect(controller.pressured).toBe(false);
    sink.calls[0]!.gate.resolve(undefined);
    w.end();
    await settle();
    sink.calls[1]?.gate.resolve(undefined);
    await new Promise((resolve) => w.once('finish', resolve));
    expect(controller.stats()).toMatchObject({ flushed: 8 });
  });
});

describe('writableStream(): WHATWG WritableStream', () => {
  it('desiredSize falls while the controller is pressured and recovers after it drains', async () => {
    const sink = gatedSink<number>();
    const { controller } = setup(sink.flush, { maxBufferSize: 4, batchSize: 4, strategy: 'block' });
    const stream = controller.writableStream({ highWaterMark: 2 });
    const writer = stream.getWriter();
    expect(writer.desiredSize).toBe(2);
    const writes = [0, 1, 2, 3, 4].map((i) => track(writer.write(i)));
    await settle();
    // 0..3 are in the buffer (pressured: 4/4); the write of 3 waits for pressure to end.
    expect(controller.size).toBe(4);
    expect(writer.desiredSize).toBeLessThanOrEqual(0);
    expect(writes[0]!.state).toBe('resolved');
    controller.start(); // takes all 4
    await settle();
    sink.calls[0]!.gate.resolve(undefined);
    await settle();
    expect(writes.every((w) => w.state === 'resolved')).toBe(true);
    expect(writer.desiredSize).toBe(2);
    const closed = writer.close();
    await settle();
    sink.calls[1]!.gate.resolve(undefined);
    await closed;
    expect(controller.stats()).toMatchObject({ accepted: 5, flushed: 5 });
  });

  it('abort() cancels a write waiting on pressure', async () => {
    const { controller } = setup(gatedSink<number>().flush, { maxBufferSize: 1, strategy: 'drop_newest' });
    const writer = controller.writableStream().getWriter();
    const write = track(writer.write(1));
    await settle();
    expect(write.state).toBe('pending');
    await writer.abort(new Error('client gone'));
    await settle();
    expect(write.state).toBe('rejected');
  });
});
