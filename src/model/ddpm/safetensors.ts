// Minimal safetensors reader: 8-byte little-endian header length, a JSON header, then raw tensor
// bytes. We only accept F32 (the DDPM checkpoint and golden fixtures are all F32) and copy each
// tensor into its own aligned Float32Array, because data offsets need not be 4-byte aligned.

export interface SafeTensor {
  dtype: 'F32';
  shape: number[];
  data: Float32Array; // [prod(shape)]
}

export interface SafeTensorFile {
  tensors: Map<string, SafeTensor>;
  metadata: Record<string, string>;
}

function fail(msg: string): never {
  throw new Error(`safetensors: ${msg}`);
}

/** Parse a whole .safetensors file. Throws a descriptive Error on any malformed input. */
export function parseSafetensors(bytes: Uint8Array): SafeTensorFile {
  if (bytes.byteLength < 8) fail(`file is ${bytes.byteLength} bytes, shorter than the 8-byte header length`);
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const headerLen = Number(dv.getBigUint64(0, true));
  if (!Number.isSafeInteger(headerLen) || headerLen <= 0 || 8 + headerLen > bytes.byteLength) {
    fail(`header length ${headerLen} does not fit in a ${bytes.byteLength}-byte file`);
  }
  let header: unknown;
  try {
    header = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes.subarray(8, 8 + headerLen)));
  } catch (e) {
    fail(`header is not valid UTF-8 JSON (${(e as Error).message})`);
  }
  if (typeof header !== 'object' || header === null || Array.isArray(header)) fail('header JSON is not an object');
  const dataStart = 8 + headerLen;
  const dataLen = bytes.byteLength - dataStart;
  const tensors = new Map<string, SafeTensor>();
  let metadata: Record<string, string> = {};
  for (const [name, raw] of Object.entries(header as Record<string, unknown>)) {
    if (name === '__metadata__') {
      metadata = raw as Record<string, string>;
      continue;
    }
    const info = raw as { dtype?: unknown; shape?: unknown; data_offsets?: unknown };
    if (info === null || typeof info !== 'object') fail(`entry '${name}' is not an object`);
    if (info.dtype !== 'F32') fail(`tensor '${name}' has dtype ${String(info.dtype)}; only F32 is supported`);
    const shape = info.shape;
    if (!Array.isArray(shape) || !shape.every((d) => Number.isInteger(d) && d >= 0)) {
      fail(`tensor '${name}' has an invalid shape ${JSON.stringify(shape)}`);
    }
    const off = info.data_offsets;
    if (!Array.isArray(off) || off.length !== 2 || !off.every((d) => Number.isInteger(d) && d >= 0)) {
      fail(`tensor '${name}' has invalid data_offsets ${JSON.stringify(off)}`);
    }
    const [begin, end] = off as [number, number];
    const numel = (shape as number[]).reduce((a, b) => a * b, 1);
    if (end < begin || end > dataLen) fail(`tensor '${name}' data [${begin}, ${end}) is outside the ${dataLen}-byte data section`);
    if (end - begin !== numel * 4) fail(`tensor '${name}' spans ${end - begin} bytes but shape ${JSON.stringify(shape)} needs ${numel * 4}`);
    const data = new Float32Array(numel); // [numel], aligned copy
    new Uint8Array(data.buffer).set(bytes.subarray(dataStart + begin, dataStart + end));
    tensors.set(name, { dtype: 'F32', shape: shape as number[], data });
  }
  return { tensors, metadata };
}

/** Fetch a named tensor and check its shape, with a clear error naming what was expected. */
export function getTensor(file: SafeTensorFile, name: string, shape: number[]): Float32Array {
  const t = file.tensors.get(name);
  if (!t) fail(`missing tensor '${name}'`);
  if (t.shape.length !== shape.length || t.shape.some((d, i) => d !== shape[i])) {
    fail(`tensor '${name}' has shape ${JSON.stringify(t.shape)}, expected ${JSON.stringify(shape)}`);
  }
  return t.data;
}
