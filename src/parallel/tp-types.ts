// Types shared by the even (./tp.ts) and proportional (./hetero.ts) tensor-parallel plans, in their
// own module so the two plan files do not import each other.

export class TpConfigError extends Error {
  override name = 'TpConfigError';
}

/** What one rank holds. Ranges are half-open [start, end). */
export interface TpPlan {
  rank: number;
  tp: number;
  heads: [number, number]; // query heads
  kvHeads: [number, number];
  kvHeadOfLocalHead: number[];
  hidden: [number, number]; // MLP units
  vocab: [number, number]; // output head rows
}
