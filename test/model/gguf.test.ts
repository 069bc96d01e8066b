import { createServer, type Server } from 'node:http';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadGgufIndex, ModelFormatError, readRange } from '../../src/model/gguf';
import { sharedDir, storiesBuffer } from './fixtures';
import { loadStories, rebuild } from './models';

const binPath = resolve(sharedDir, 'models/stories260K/stories260K.bin');

describe('loadGgufIndex on stories260K', () => {
  it('reads the config and vocab that PROVENANCE.md lists', async () => {
    const { index } = await loadStories();
    expect(index.config).toMatchObject({
      dim: 64, hiddenDim: 172, nLayers: 5, nHeads: 8, nKvHeads: 4, headDim: 8, vocabSize: 512,
      ropeTheta: 10000, contextLength: 2048, bos: 1, eos: 2, tiedOutput: false,
    });
    expect(index.config.rmsEps).toBeCloseTo(1e-5, 10);
    expect(index.tensors.size).toBe(48);
    expect(index.tokenizer.tokens.length).toBe(512);
    expect(index.tokenizer.tokens.slice(0, 4)).toEqual(['<unk>', '<s>', '</s>', '<0x00>']);
    expect([index.tokenizer.bos, index.tokenizer.eos, index.tokenizer.unk, index.tokenizer.addBos]).toEqual([1, 2, 0, true]);
    expect(index.tensors.get('blk.0.attn_k.weight')).toMatchObject({ type: 'f32', dims: [64, 32], bytes: 64 * 32 * 4 });
  });

  it('gives absolute offsets that match the llama2.c export of the same weights (stories260K.bin)', async () => {
    // The .bin is an independent file: a 28-byte header, then the f32 tensors in llama2.c's order.
    const bin = readFileSync(binPath);
    const { buf, index } = await loadStories();
    const order = ['token_embd'];
    for (const t of ['attn_norm', 'attn_q', 'attn_k', 'attn_v', 'attn_output', 'ffn_norm', 'ffn_gate', 'ffn_down', 'ffn_up'])
      for (let l = 0; l < 5; l++) order.push(`blk.${l}.${t}`);
    order.push('output_norm');
    let off = 28;
    for (const name of order) {
      const e = index.tensors.get(`${name}.weight`)!;
      const mine = await readRange(buf, e.offset, e.offset + e.bytes);
      expect(Buffer.from(mine).equals(bin.subarray(off, off + e.bytes)), name).toBe(true);
      off += e.bytes;
    }
    expect(off).toBe(bin.length - 16384); // what is left is the RoPE tables
  });

  it('parses a Blob and an HTTP URL (Range requests) the same as a buffer', async () => {
    const buf = storiesBuffer();
    const a = await loadGgufIndex(buf);
    const b = await loadGgufIndex(new Blob([buf]));
    expect(b.config).toEqual(a.config);
    expect([...b.tensors]).toEqual([...a.tensors]);
    const url = `http://127.0.0.1:${port}/stories260K.gguf`;
    const c = await loadGgufIndex(url);
    expect(c.config).toEqual(a.config);
    expect([...c.tensors]).toEqual([...a.tensors]);
    expect(c.tokenizer.tokens).toEqual(a.tokenizer.tokens);
    const e = a.tensors.get('blk.3.ffn_down.weight')!;
    const want = await readRange(buf, e.offset + 100, e.offset + 5000);
    expect(Buffer.from(await readRange(url, e.offset + 100, e.offset + 5000)).equals(want)).toBe(true);
    expect(Buffer.from(await readRange(new Blob([buf]), e.offset + 100, e.offset + 5000)).equals(want)).toBe(true);
    expect(rangeRequests).toBeGreaterThan(0);
  });
});

describe('loadGgufIndex errors', () => {
  it('rejects a file that is not GGUF', async () => {
    await expect(loadGgufIndex(new TextEncoder().encode('PK\x03\x04 not a model at all'.repeat(8)).buffer)).rejects.toThrow(ModelFormatError);
    await expect(loadGgufIndex(new TextEncoder().encode('PK\x03\x04 not a model at all'.repeat(8)).buffer)).rejects.toThrow(/not a GGUF/);
  });

  it('rejects another architecture', async () => {
    const m = await loadStories();
    const buf = await rebuild(m, { meta: { 'general.architecture': 'gpt2' } });
    await expect(loadGgufIndex(buf)).rejects.toThrow(/architecture "gpt2" is not supported/);
  });

  it('rejects unsupported tensor types, naming the tensor', async () => {
    const m = await loadStories();
    const buf = await rebuild(m, { rawType: { 'blk.2.attn_q.weight': 3 } }); // q4_1
    await expect(loadGgufIndex(buf)).rejects.toThrow(/blk\.2\.attn_q\.weight has type Q4_1/);
  });

  it('rejects RoPE scaling it does not implement', async () => {
    const m = await loadStories();
    const buf = await rebuild(m, { meta: { 'llama.rope.scaling.type': 'linear', 'llama.rope.scaling.factor': 2.5 } });
    await expect(loadGgufIndex(buf)).rejects.toThrow(/RoPE scaling "linear" is not supported/);
  });

  it('rejects missing tensors, and ties the head when only output.weight is absent', async () => {
    const m = await loadStories();
    await expect(loadGgufIndex(await rebuild(m, { drop: ['blk.4.ffn_up.weight'] }))).rejects.toThrow(/missing tensors: blk\.4\.ffn_up\.weight/);
    const tied = await loadGgufIndex(await rebuild(m, { drop: ['output.weight'] }));
    expect(tied.config.tiedOutput).toBe(true);
  });
});

// A small Range-capable static server for the URL path.
let server: Server;
let port = 0;
let rangeRequests = 0;
beforeAll(async () => {
  const file = readFileSync(resolve(sharedDir, 'models/stories260K/stories260K.gguf'));
  server = createServer((req, res) => {
    const m = /bytes=(\d+)-(\d*)/.exec(req.headers.range ?? '');
    if (!m) {
      res.writeHead(200, { 'content-length': file.length });
      res.end(file);
      return;
    }
    rangeRequests++;
    const start = Number(m[1]);
    const end = Math.min(m[2] ? Number(m[2]) : file.length - 1, file.length - 1);
    res.writeHead(206, { 'content-range': `bytes ${start}-${end}/${file.length}`, 'content-length': end - start + 1 });
    res.end(file.subarray(start, end + 1));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  port = (server.address() as { port: number }).port;
});
afterAll(() => new Promise<void>((r) => server.close(() => r())));
