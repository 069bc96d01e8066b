// Image pixels as they cross the peer -> coordinator control connection: base64 of the f32 bytes.
// Exact (no decimal rounding), and small: PeerJS JSON messages must stay under 16300 bytes, which
// two 32x32 images written as decimal numbers (~18 characters each) exceed; this is 5.5 KB each.
// Tiny on purpose: the coordinator page imports it without pulling in any engine code.

/** [n] f32 -> base64 of its bytes (platform order: little-endian on every WebGPU platform). */
export function encodePixels(px: Float32Array): string {
  const bytes = new Uint8Array(px.buffer, px.byteOffset, px.byteLength); // [4n]
  let s = '';
  for (let i = 0; i < bytes.length; i += 0x2000) s += String.fromCharCode(...bytes.subarray(i, i + 0x2000));
  return btoa(s);
}

/** The inverse of encodePixels: [n] numbers. */
export function decodePixels(b64: string): number[] {
  const s = atob(b64);
  if (s.length % 4 !== 0) throw new Error(`pixels: ${s.length} bytes is not a whole number of f32 values`);
  const bytes = new Uint8Array(s.length); // [4n]
  for (let i = 0; i < s.length; i++) bytes[i] = s.charCodeAt(i);
  return Array.from(new Float32Array(bytes.buffer)); // [n]
}
