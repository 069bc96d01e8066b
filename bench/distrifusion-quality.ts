// DistriFusion quality benchmark: PSNR / SSIM of patch-parallel samples vs the single-device
// sample (same seed, same sampler) for several modes and peer counts, CPU backend over loopback
// collectives. Prints JSON, then a markdown table.
//
// Run (Node 20, no TS runner needed):
//   npx esbuild bench/distrifusion-quality.ts --bundle --platform=node --format=esm --outfile=bench/out/dq.mjs
//   node bench/out/dq.mjs --seeds 32 --steps 20 --warmup 2 --n 2,4 --jobs 8
// --jobs J forks J copies of this script over disjoint seed ranges and merges their results.
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { loopbackComms } from '../src/collectives/loopback';
import { loadDdpm } from '../src/model/ddpm/config';
import { psnr, ssim } from '../src/model/ddpm/metrics';
import { sampleImage, type SamplerSpec } from '../src/model/ddpm/sampler';
import { runPatchParallel, type PatchMode } from '../src/parallel/patch';

const args = new Map<string, string>();
for (let i = 2; i < process.argv.length; i += 2) args.set(process.argv[i].replace(/^--/, ''), process.argv[i + 1]);
const seeds = Number(args.get('seeds') ?? 32);
const seedFrom = Number(args.get('seed-from') ?? 0);
const steps = Number(args.get('steps') ?? 20);
const warmup = Number(args.get('warmup') ?? 2);
const ns = (args.get('n') ?? '2,4').split(',').map(Number);
const jobs = Number(args.get('jobs') ?? 1);
const modes: PatchMode[] = (args.get('modes') ?? 'corrected_async_gn,stale_gn,sync_gn,no_sync').split(',') as PatchMode[];
const shared = process.env.TABMESH_SHARED ?? resolve(process.cwd(), '../shared');

interface Row { n: number; mode: PatchMode; seed: number; psnr: number; ssim: number }

async function measure(from: number, count: number): Promise<Row[]> {
  const model = loadDdpm(readFileSync(`${shared}/models/ddpm-mnist-cnn/ddpm_mnist_starter.safetensors`));
  const sampler: SamplerSpec = { kind: 'ddim', steps };
  const rows: Row[] = [];
  for (let seed = from; seed < from + count; seed++) {
    const ref = await sampleImage({ model, sampler, seed }); // [1, 28, 28]
    for (const n of ns) {
      for (const mode of modes) {
        const comms = loopbackComms(n);
        const res = await Promise.all(
          comms.map((comm, rank) => runPatchParallel({ comm, model, rank, nPeers: n, steps, sampler: 'ddim', mode, warmupSteps: warmup, seed })),
        );
        comms.forEach((c) => c.dispose());
        rows.push({ n, mode, seed, psnr: psnr(res[0].image, ref), ssim: ssim(res[0].image, ref, 28, 28) });
      }
    }
  }
  return rows;
}

function forked(from: number, count: number): Promise<Row[]> {
  return new Promise((res, rej) => {
    const argv = [process.argv[1], '--seed-from', String(from), '--seeds', String(count), '--steps', String(steps),
      '--warmup', String(warmup), '--n', ns.join(','), '--modes', modes.join(','), '--raw', '1'];
    const child = spawn(process.execPath, argv, { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.on('exit', (code) => (code === 0 ? res(JSON.parse(out) as Row[]) : rej(new Error(`bench child exited ${code}`))));
  });
}

async function main(): Promise<void> {
  const t0 = performance.now();
  let rows: Row[];
  if (args.get('raw')) {
    process.stdout.write(JSON.stringify(await measure(seedFrom, seeds)));
    return;
  }
  if (jobs > 1) {
    const per = Math.ceil(seeds / jobs);
    const parts: Promise<Row[]>[] = [];
    for (let j = 0; j < jobs && j * per < seeds; j++) parts.push(forked(seedFrom + j * per, Math.min(per, seeds - j * per)));
    rows = (await Promise.all(parts)).flat();
  } else rows = await measure(seedFrom, seeds);
  const summary = ns.flatMap((n) =>
    modes.map((mode) => {
      const r = rows.filter((x) => x.n === n && x.mode === mode);
      const ps = r.map((x) => x.psnr).filter(Number.isFinite);
      const mean = (a: number[]) => a.reduce((s, v) => s + v, 0) / a.length;
      return { n, mode, seeds: r.length, psnrMean: mean(ps), psnrMin: Math.min(...ps), ssimMean: mean(r.map((x) => x.ssim)) };
    }),
  );
  const result = { sampler: 'ddim', steps, warmupSteps: warmup, seeds, seedFrom, wallS: (performance.now() - t0) / 1000, summary, rows };
  console.log(JSON.stringify(result, null, 1));
  console.log(`\n| N | mode | seeds | PSNR mean (dB) | PSNR min (dB) | SSIM mean |\n|---|---|---|---|---|---|`);
  for (const s of summary) {
    console.log(`| ${s.n} | ${s.mode} | ${s.seeds} | ${s.psnrMean.toFixed(2)} | ${s.psnrMin.toFixed(2)} | ${s.ssimMean.toFixed(4)} |`);
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
