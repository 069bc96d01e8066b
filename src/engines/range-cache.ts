// Byte ranges of model files, fetched by HTTP Range and kept in the Cache API so a reload does
// not download again. Each peer asks only for the ranges of its own shard.

const CACHE_NAME = 'tabmesh-model-ranges-v1';

export type Progress = (loaded: number, total: number) => void;

async function openCache(): Promise<Cache | null> {
  try {
    return typeof caches !== 'undefined' ? await caches.open(CACHE_NAME) : null;
  } catch {
    return null; // insecure context or storage disabled: fetch every time
  }
}

/** A `read(start, end)` over a URL that consults the cache first and counts bytes for a progress bar. */
export function cachedRangeReader(url: string, onBytes?: (n: number) => void): (start: number, end: number) => Promise<Uint8Array> {
  const cacheP = openCache();
  return async (start, end) => {
    // The range goes in the query string of the cache key: the Cache API ignores URL fragments
    // when matching, so a `#bytes=` key would hand back another range of the same file.
    const key = `${url}${url.includes('?') ? '&' : '?'}tabmesh-range=${start}-${end}`;
    const cache = await cacheP;
    const hit = await cache?.match(key);
    if (hit) {
      const b = new Uint8Array(await hit.arrayBuffer());
      if (b.byteLength === end - start) {
        onBytes?.(b.byteLength);
        return b;
      }
      await cache?.delete(key); // a damaged entry: fetch again
    }
    const res = await fetch(url, { headers: { Range: `bytes=${start}-${end - 1}` } });
    if (!res.ok) throw new Error(`fetching ${url} bytes ${start}-${end - 1}: HTTP ${res.status}`);
    let bytes = new Uint8Array(await res.arrayBuffer());
    // A server that ignores Range answers 200 with the whole file: slice what we asked for.
    if (res.status === 200 && bytes.byteLength > end - start) bytes = bytes.slice(start, end);
    if (bytes.byteLength !== end - start) throw new Error(`fetching ${url}: expected ${end - start} bytes, got ${bytes.byteLength}`);
    onBytes?.(bytes.byteLength);
    await cache?.put(key, new Response(bytes.slice())).catch(() => undefined); // quota errors only cost a re-download
    return bytes;
  };
}
