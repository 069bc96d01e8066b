// SentencePiece-BPE ("llama" vocab) tokenizer from the GGUF's embedded vocabulary, following
// llama.cpp's llm_tokenizer_spm: spaces become '▁', one leading space is added, adjacent symbols are
// merged greedily by the score of the merged token (highest first, leftmost on ties), and any piece
// that is not in the vocabulary falls back to its UTF-8 bytes as <0xXX> tokens.

import type { GgufTokenizerData } from './gguf';

const SPACE = '\u2581'; // '▁'
const TOKEN_UNKNOWN = 2;
const TOKEN_CONTROL = 3;
const TOKEN_UNUSED = 5;
const TOKEN_BYTE = 6;
const utf8 = new TextEncoder();

export interface EncodeOptions {
  addBos?: boolean; // default: the vocabulary's add_bos_token (true for llama)
  /**
   * Map the text of control / user-defined tokens (e.g. "<s>", "<|im_start|>") to their ids, as
   * llama.cpp's parse_special does for chat prompts rendered from a template. Off by default so a
   * user's text can never inject control tokens.
   */
  parseSpecial?: boolean;
}

const TOKEN_USER_DEFINED = 4;

interface Sym {
  text: string;
  prev: number;
  next: number;
  alive: boolean;
}

interface Bigram {
  left: number;
  right: number;
  score: number;
  text: string;
}

export class LlamaTokenizer {
  readonly vocabSize: number;
  readonly bos: number;
  readonly eos: number;
  readonly unk: number;
  readonly addBos: boolean;
  private readonly tokenToId = new Map<string, number>();
  private readonly byteToId = new Int32Array(256).fill(-1);
  private readonly pieces: Uint8Array[]; // decoded bytes of each token ('▁' -> ' ')

  constructor(private readonly vocab: GgufTokenizerData) {
    if (vocab.model !== 'llama') throw new Error(`tokenizer model "${vocab.model}" is not supported (only llama/SPM)`);
    this.vocabSize = vocab.tokens.length;
    this.bos = vocab.bos;
    this.eos = vocab.eos;
    this.unk = vocab.unk;
    this.addBos = vocab.addBos;
    this.pieces = vocab.tokens.map((t, id) => this.pieceOf(t, id));
    vocab.tokens.forEach((t, id) => {
      if (!this.tokenToId.has(t)) this.tokenToId.set(t, id);
      const m = vocab.types[id] === TOKEN_BYTE ? /^<0x([0-9A-Fa-f]{2})>$/.exec(t) : null;
      if (m) this.byteToId[parseInt(m[1], 16)] = id;
    });
  }

  private pieceOf(text: string, id: number): Uint8Array {
    const type = this.vocab.types[id];
    if (type === TOKEN_BYTE) {
      const m = /^<0x([0-9A-Fa-f]{2})>$/.exec(text);
      return m ? Uint8Array.of(parseInt(m[1], 16)) : new Uint8Array(0);
    }
    if (type === TOKEN_CONTROL || type === TOKEN_UNUSED) return new Uint8Array(0); // <s>, </s>: no text
    if (type === TOKEN_UNKNOWN) return utf8.encode('\u2585'); // llama.cpp renders <unk> as '▅'
    return utf8.encode(text.replaceAll(SPACE, ' '));
  }

  /** The token's text bytes as decode() would produce them (empty for control tokens). */
  pieceBytes(id: number): Uint8Array {
    const p = this.pieces[id];
    if (!p) throw new RangeError(`token id ${id} out of range [0, ${this.vocabSize})`);
    return p;
  }

  isControl(id: number): boolean {
    return this.vocab.types[id] === TOKEN_CONTROL;
  }

  /**
   * Text -> token ids. Special-token text such as "<s>" is tokenized as plain text unless
   * `parseSpecial` is set; then the text is cut at special tokens and, as llama.cpp's SPM path
   * does, each raw fragment that starts the text or follows a special token gets the space prefix.
   */
  encode(text: string, opts: EncodeOptions = {}): Int32Array {
    const out: number[] = [];
    if (opts.addBos ?? this.addBos) out.push(this.bos);
    const fragments: (string | number)[] = opts.parseSpecial ? this.splitSpecial(text) : text.length > 0 ? [text] : [];
    let prevSpecial = true;
    for (const f of fragments) {
      if (typeof f === 'number') {
        out.push(f);
        prevSpecial = true;
        continue;
      }
      const prefixed = (this.vocab.addSpacePrefix && prevSpecial ? ' ' : '') + f;
      this.encodeSpm(prefixed.replaceAll(' ', SPACE), out);
      prevSpecial = false;
    }
    return Int32Array.from(out);
  }

  private specialRe: RegExp | null | undefined;

  /** Cuts text into raw fragments (strings) and special tokens (ids), longest special text first. */
  private splitSpecial(text: string): (string | number)[] {
    if (this.specialRe === undefined) {
      const specials = this.vocab.tokens
        .filter((t, id) => t.length > 0 && (this.vocab.types[id] === TOKEN_CONTROL || this.vocab.types[id] === TOKEN_USER_DEFINED))
        .sort((a, b) => b.length - a.length);
      this.specialRe = specials.length ? new RegExp(specials.map((t) => t.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')).join('|'), 'g') : null;
    }
    if (!this.specialRe) return text.length > 0 ? [text] : [];
    const out: (string | number)[] = [];
    let last = 0;
    for (const m of text.matchAll(this.specialRe)) {
      if (m.index > last) out.push(text.slice(last, m.index));
      out.push(this.tokenToId.get(m[0]) as number);
      last = m.index + m[0].length;
    }
    if (last < text.length) out.push(text.slice(last));
    return out;
  }

  private encodeSpm(text: string, out: number[]): void {
    // one symbol per Unicode code point (llama.cpp splits on UTF-8 character boundaries)
    const chars = Array.from(text);
    const syms: Sym[] = chars.map((c, i) => ({ text: c, prev: i - 1, next: i + 1 < chars.length ? i + 1 : -1, alive: true }));
    const heap = new BigramHeap();
    const tryAdd = (left: number, right: number) => {
      if (left < 0 || right < 0) return;
      const t = syms[left].text + syms[right].text;
      const id = this.tokenToId.get(t);
      if (id === undefined) return;
      heap.push({ left, right, score: this.vocab.scores[id], text: t });
    };
    for (let i = 1; i < syms.length; i++) tryAdd(i - 1, i);
    for (let b = heap.pop(); b; b = heap.pop()) {
      const l = syms[b.left];
      const r = syms[b.right];
      // stale entry: one side was merged away or changed since this bigram was queued
      if (!l.alive || !r.alive || l.text + r.text !== b.text || l.next !== b.right) continue;
      l.text = b.text;
      r.alive = false;
      l.next = r.next;
      if (r.next >= 0) syms[r.next].prev = b.left;
      tryAdd(l.prev, b.left);
      tryAdd(b.left, l.next);
    }
    // Every merged symbol is a vocabulary token (a merge only happens into one), so only single
    // characters missing from the vocabulary remain: those fall back to their UTF-8 bytes.
    for (let i = 0; i >= 0 && i < syms.length; i = syms[i].next) this.emit(syms[i].text, out);
  }

  private emit(text: string, out: number[]): void {
    const id = this.tokenToId.get(text);
    if (id !== undefined) {
      out.push(id);
      return;
    }
    for (const byte of utf8.encode(text)) {
      const bid = this.byteToId[byte];
      out.push(bid >= 0 ? bid : this.unk);
    }
  }

  /**
   * Token ids -> text. Control tokens (BOS/EOS) produce nothing; byte tokens are reassembled into UTF-8.
   * As llama.cpp / SentencePiece do, the space that the leading '▁' adds right after BOS is stripped.
   */
  decode(ids: ArrayLike<number>, opts: { stripLeadingSpace?: boolean } = {}): string {
    const dec = new StreamDecoder(this, { stripLeadingSpace: opts.stripLeadingSpace ?? (ids.length > 0 && ids[0] === this.bos) });
    let s = '';
    for (let i = 0; i < ids.length; i++) s += dec.push(ids[i]);
    return s + dec.flush();
  }
}

/**
 * Incremental detokenizer: push ids, get the newly completed text. Multi-byte characters split across
 * <0xXX> tokens are held back until complete, so concatenating the pushes + flush() equals decode().
 */
export class StreamDecoder {
  private readonly td = new TextDecoder('utf-8');
  private strip: boolean;

  constructor(
    private readonly tok: LlamaTokenizer,
    opts: { stripLeadingSpace: boolean },
  ) {
    this.strip = opts.stripLeadingSpace;
  }

  push(id: number): string {
    let bytes = this.tok.pieceBytes(id);
    if (this.strip && bytes.length > 0) {
      this.strip = false; // only the first text-bearing token after BOS
      if (bytes[0] === 0x20) bytes = bytes.subarray(1);
    }
    return this.td.decode(bytes, { stream: true });
  }

  flush(): string {
    return this.td.decode();
  }
}

/** Max-heap on (score, then smaller left index), llama.cpp's llm_bigram_spm::comparator. */
class BigramHeap {
  private a: Bigram[] = [];
  private static better(x: Bigram, y: Bigram): boolean {
    return x.score > y.score || (x.score === y.score && x.left < y.left);
  }
  push(b: Bigram): void {
    const a = this.a;
    a.push(b);
    let i = a.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!BigramHeap.better(a[i], a[p])) break;
      [a[i], a[p]] = [a[p], a[i]];
      i = p;
    }
  }
  pop(): Bigram | undefined {
    const a = this.a;
    if (a.length === 0) return undefined;
    const top = a[0];
    const last = a.pop()!;
    if (a.length > 0) {
      a[0] = last;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < a.length && BigramHeap.better(a[l], a[m])) m = l;
        if (r < a.length && BigramHeap.better(a[r], a[m])) m = r;
        if (m === i) break;
        [a[i], a[m]] = [a[m], a[i]];
        i = m;
      }
    }
    return top;
  }
}
