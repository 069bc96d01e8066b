// n GroupComms over a loopback mesh in this one process: the real collective and transport code, with
// in-memory channels. For unit tests of code that takes a Comm (engines, parallel layers).
import { GroupComm, type GroupCommOptions } from './group';
import { loopbackMeshes, type LoopbackMeshOptions, type LoopbackMeshes } from '../transport/loopback';

export interface LoopbackCommOptions extends GroupCommOptions, LoopbackMeshOptions {}

/** Peer ids used by the loopback helpers: 'p0'..'p{n-1}', rank i = 'p{i}'. */
export function loopbackPeerIds(n: number): string[] {
  return Array.from({ length: n }, (_, i) => `p${i}`);
}

/** The GroupComms plus the meshes under them, for tests that inject frames or close links. */
export function loopbackGroup(n: number, opts: LoopbackCommOptions = {}): { comms: GroupComm[] } & LoopbackMeshes {
  const ids = loopbackPeerIds(n);
  const net = loopbackMeshes(ids, opts);
  const comms = ids.map((id, i) => new GroupComm(net.meshes[i], ids, id, opts));
  return { comms, ...net };
}

/** n Comms (rank i at index i) over a loopback mesh. Call each rank's collectives concurrently.
 *  They are GroupComms (so barrier() and dispose() are there too); typed as such, usable as Comm[]. */
export function loopbackComms(n: number, opts: LoopbackCommOptions = {}): GroupComm[] {
  return loopbackGroup(n, opts).comms;
}
