// The multi-GPU bench's streamed GGUF writer, read back by the project's GGUF parser and tokenizer
// (written independently of it): the config round-trips, every tensor lies inside the file with a
// gap of more than the loader's 64 KiB merge distance after the previous one (so tp=1 never asks for
// the whole file in one range), and the bench prompt tokenizes to exactly the requested length.
import { describe, expect, it } from 'vitest';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { SHAPES, benchPrompt, writeBenchModel } from '../../bench/multi-gpu-model';
import { loadGgufIndex } from '../../src/model/gguf';
import { LlamaTokenizer } from '../../src/model/tokenizer';
import { shardRanges } from '../../src/parallel/tp';

describe('multi-GPU bench model', () => {
  it('writes a GGUF the loader reads, with separate tensor ranges and an exact-length prompt', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tm-bench-'));
    const file = path.join(dir, 'tiny.gguf');
    const size = writeBenchModel(file, SHAPES.tiny, 'f16');
    const b = fs.readFileSync(file);
    expect(b.length).toBe(size);
    const index = await loadGgufIndex(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength) as ArrayBuffer);
    const t = SHAPES.tiny;
    expect(index.config).toMatchObject({ dim: t.dim, hiddenDim: t.hiddenDim, nLayers: t.nLayers, nHeads: t.nHeads, nKvHeads: t.nKvHeads, vocabSize: t.vocabSize });
    expect(index.tensors.size).toBe(3 + 9 * t.nLayers);
    const q = index.tensors.get('blk.0.attn_q.weight')!;
    expect(q.type).toBe('f16');
    expect(q.offset + q.bytes).toBeLessThanOrEqual(size);
    const norm = index.tensors.get('blk.1.ffn_norm.weight')!;
    expect(new Float32Array(b.buffer.slice(b.byteOffset + norm.offset, b.byteOffset + norm.offset + 16))).toEqual(new Float32Array([1, 1, 1, 1]));
    // One range per tensor at tp=1: no merged range spans two tensors.
    expect(shardRanges(index, 0, 1).length).toBe(index.tensors.size);
    const tok = new LlamaTokenizer(index.tokenizer);
    for (const n of [2, 17, 128]) expect(tok.encode(benchPrompt(n)).length).toBe(n);
    // A second call with the same shape keeps the file (the GPU machine writes 13.5 GB once).
    const mtime = fs.statSync(file).mtimeMs;
    writeBenchModel(file, SHAPES.tiny, 'f16');
    expect(fs.statSync(file).mtimeMs).toBe(mtime);
    fs.rmSync(dir, { recursive: true });
  });
});
