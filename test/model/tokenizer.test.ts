import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { LlamaTokenizer, StreamDecoder } from '../../src/model/tokenizer';
import { GOLDEN_IDS, GOLDEN_TEXT, sharedDir } from './fixtures';
import { loadStories } from './models';

/**
 * Independent reference: llama2.c's encoder (run.c `encode`) over its own vocabulary file tok512.bin
 * (not the GGUF): dummy-prefix space, code points looked up (bytes + 3 as fallback), then repeatedly
 * merge the adjacent pair whose concatenation has the best score (leftmost on ties).
 */
function llama2cTokenizer() {
  const b = readFileSync(resolve(sharedDir, 'models/stories260K/tok512.bin'));
  const vocab: string[] = [];
  const scores: number[] = [];
  let o = 4;
  while (o < b.length) {
    scores.push(b.readFloatLE(o));
    const len = b.readUInt32LE(o + 4);
    vocab.push(b.subarray(o + 8, o + 8 + len).toString('utf8'));
    o += 8 + len;
  }
  const lookup = new Map<string, number>();
  vocab.forEach((v, i) => { if (!lookup.has(v)) lookup.set(v, i); });
  const encode = (text: string): number[] => {
    const toks: number[] = [1];
    if (text.length === 0) return toks;
    toks.push(lookup.get(' ')!);
    for (const ch of Array.from(text)) {
      const id = lookup.get(ch);
      if (id !== undefined) toks.push(id);
      else for (const byte of new TextEncoder().encode(ch)) toks.push(byte + 3);
    }
    for (;;) {
      let best = -1e10;
      let bestId = -1;
      let bestIdx = -1;
      for (let i = 0; i < toks.length - 1; i++) {
        if (i === 0) continue; // never merge into BOS
        const id = lookup.get(vocab[toks[i]] + vocab[toks[i + 1]]);
        if (id !== undefined && scores[id] > best) {
          best = scores[id];
          bestId = id;
          bestIdx = i;
        }
      }
      if (bestIdx < 0) break;
      toks.splice(bestIdx, 2, bestId);
    }
    return toks;
  };
  return { encode };
}

let tok: LlamaTokenizer;
let spaceId = -1;
beforeAll(async () => {
  const { index } = await loadStories();
  tok = new LlamaTokenizer(index.tokenizer);
  spaceId = index.tokenizer.tokens.indexOf('\u2581');
});

describe('LlamaTokenizer (stories260K vocab)', () => {
  it('decodes the golden ids to the golden text (PROVENANCE.md)', () => {
    expect(tok.decode(GOLDEN_IDS)).toBe(GOLDEN_TEXT);
    // after BOS, the space SentencePiece adds before the first word is dropped
    expect(tok.decode([1, ...GOLDEN_IDS])).toBe(GOLDEN_TEXT.slice(1));
  });

  it('encodes the golden text back to BOS + the golden ids', () => {
    expect(Array.from(tok.encode(GOLDEN_TEXT.slice(1)))).toEqual([1, ...GOLDEN_IDS]);
    expect(Array.from(tok.encode(GOLDEN_TEXT.slice(1), { addBos: false }))).toEqual(GOLDEN_IDS);
  });

  it('agrees with llama2.c\'s encoder over tok512.bin on varied text', () => {
    const ref = llama2cTokenizer();
    const texts = [
      'Hello world', 'Once upon a time', '  two leading spaces', 'trailing  ', 'tabs\tand\nnewlines\n\n',
      'Lily and Tim went to the park. "Look!" said Lily.', 'café naïve — “quotes” ‘x’ …', 'emoji 😀 and 中文 and ß',
      'x', ' ', 'aaaaaaaaaaaaaaaaaaaaaaa', 'The the THE tHe', '12345 67890 $%&*()[]{}<>|~', 'ñ€™',
    ];
    for (const t of texts) expect(Array.from(tok.encode(t)), JSON.stringify(t)).toEqual(ref.encode(t));
  });

  it('round-trips text with byte fallback (characters not in the vocabulary)', () => {
    for (const t of ['emoji 😀!', 'kanji 漢字', 'mixed é ñ 😀 \n end']) {
      const ids = tok.encode(t);
      expect(tok.decode(ids)).toBe(t);
    }
    // '▁' then <0xF0> <0x9F> <0x98> <0x80> (byte token ids are byte + 3 in this vocab)
    expect(Array.from(tok.encode('😀', { addBos: false }))).toEqual([spaceId, 0xf0 + 3, 0x9f + 3, 0x98 + 3, 0x80 + 3]);
  });

  it('empty text is just BOS', () => {
    expect(Array.from(tok.encode(''))).toEqual([1]);
    expect(Array.from(tok.encode('', { addBos: false }))).toEqual([]);
  });

  it('streams: a character split over byte tokens appears once complete', () => {
    const dec = new StreamDecoder(tok, { stripLeadingSpace: false });
    const ids = tok.encode('a😀', { addBos: false }); // '▁a' then 4 byte tokens
    const outs = Array.from(ids).map((id) => dec.push(id));
    expect(outs).toEqual([' a', '', '', '', '😀']);
  });
});
