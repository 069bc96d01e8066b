// The tuning cache of a browser peer, kept in IndexedDB. Why IndexedDB: GPU work runs in a dedicated
// worker, which has no localStorage; IndexedDB exists in workers. The whole store is read once at start
// into memory (autotune's TuneCache is synchronous: kernels look their choice up while encoding), and
// every new winner is written through. Without IndexedDB (private mode, an old browser, Node) the cache
// lives in memory only: tuning simply repeats next time.
import { MemoryTuneCache, type TuneCache } from '../kernels/autotune';

const DB = 'tabmesh';
const STORE = 'tune';

function request<T>(r: IDBRequest<T>): Promise<T> {
  return new Promise((resolve, reject) => {
    r.onsuccess = () => resolve(r.result);
    r.onerror = () => reject(r.error ?? new Error('IndexedDB request failed'));
  });
}

/** A write-through cache over IndexedDB `tabmesh/tune` (key -> config JSON), or a memory one where that fails. */
export async function openIdbTuneCache(idb: IDBFactory | undefined = (globalThis as { indexedDB?: IDBFactory }).indexedDB): Promise<{ cache: TuneCache; persistent: boolean }> {
  if (!idb) return { cache: new MemoryTuneCache(), persistent: false };
  try {
    const open = idb.open(DB, 1);
    open.onupgradeneeded = () => open.result.createObjectStore(STORE);
    const db = await request(open);
    const tx = db.transaction(STORE, 'readonly').objectStore(STORE);
    const [keys, values] = await Promise.all([request(tx.getAllKeys()), request(tx.getAll())]);
    const init: Record<string, string> = {};
    keys.forEach((k, i) => { if (typeof k === 'string' && typeof values[i] === 'string') init[k] = values[i] as string; });
    const cache = new MemoryTuneCache(init, (k, v) => {
      try {
        db.transaction(STORE, 'readwrite').objectStore(STORE).put(v, k); // fire and forget: a lost write re-tunes once
      } catch {
        // quota or a closed database: memory still has it for this session
      }
    });
    return { persistent: true, cache };
  } catch {
    return { cache: new MemoryTuneCache(), persistent: false };
  }
}
