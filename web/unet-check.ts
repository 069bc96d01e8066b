// fm-unet checked in the browser against two independent references on the golden inputs
// (/fm-unet/golden.safetensors: x.N [1,1,32,32], t.N [1], y.N [1], eps.N [1,1,32,32], PyTorch fp32):
// onnxruntime-web running the exported /fm-unet/fm-unet.onnx on its wasm backend, and PyTorch's eps.
// Our WGSL forward (UnetGpu) runs on this page's WebGPU adapter. Loaded by a dynamic import from
// the image panel (window.tabmesh.checkUnetOnnx), so the main bundle never carries ORT.
import { Gpu } from '../src/gpu/gpu';
import { parseSafetensors, getTensor } from '../src/model/ddpm/safetensors';
import { loadUnet } from '../src/model/unet/config';
import { UnetGpu } from '../src/model/unet/forward-gpu';
import { configureOrt, createSession, ort } from '../src/model/ort/ort-env';

export interface UnetCheckOptions {
  base?: string; // folder URL holding fm-unet.safetensors, fm-unet.onnx, golden.safetensors (default /fm-unet/)
}

export interface UnetCheckCase {
  n: number;
  t: number;
  y: number;
  wgslVsOrt: number; // max |eps_wgsl - eps_ort|
  wgslVsTorch: number; // max |eps_wgsl - eps_torch|
  ortVsTorch: number; // max |eps_ort - eps_torch|
  torchMaxAbs: number; // max |eps_torch|: the scale the differences are measured against
  wgslMs: number; // this forward's wall time (the first one includes pipeline compilation)
}

export interface UnetCheckResult {
  adapter: string; // the WebGPU adapter the WGSL forward ran on
  ortBackend: 'wasm';
  cases: UnetCheckCase[];
  maxWgslVsOrt: number;
  maxWgslVsTorch: number;
  maxOrtVsTorch: number;
  ms: { wgsl: number; ort: number };
}

const maxAbsDiff = (a: ArrayLike<number>, b: ArrayLike<number>): number => {
  if (a.length !== b.length) throw new Error(`unet check: ${a.length} vs ${b.length} values`);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
};

async function bytesOf(url: string): Promise<Uint8Array> {
  const res = await fetch(url);
  if (!res.ok) throw new Error(`unet check: cannot read ${url}: HTTP ${res.status}`);
  return new Uint8Array(await res.arrayBuffer());
}

export async function checkUnetOnnx(opts: UnetCheckOptions = {}): Promise<UnetCheckResult> {
  const base = opts.base ?? '/fm-unet/';
  const [weights, onnx, goldenBytes] = await Promise.all(['fm-unet.safetensors', 'fm-unet.onnx', 'golden.safetensors'].map((f) => bytesOf(base + f)));
  const model = loadUnet(weights);
  const { size: S, inChannels: C } = model.config;
  const golden = parseSafetensors(goldenBytes);
  const n = [...golden.tensors.keys()].filter((k) => /^x\.\d+$/.test(k)).length;
  if (n === 0) throw new Error('unet check: golden.safetensors holds no x.N inputs');

  configureOrt({ numThreads: 1 }); // one thread: the check must not depend on cross-origin isolation
  const session = await createSession(onnx, 'wasm');
  const gpu = await Gpu.create();
  const ug = UnetGpu.create(gpu, model);
  const cases: UnetCheckCase[] = [];
  const ms = { wgsl: 0, ort: 0 };
  try {
    for (let i = 0; i < n; i++) {
      const x = getTensor(golden, `x.${i}`, [1, C, S, S]); // [1, C, S, S]
      const t = getTensor(golden, `t.${i}`, [1])[0];
      const y = getTensor(golden, `y.${i}`, [1])[0];
      const epsTorch = getTensor(golden, `eps.${i}`, [1, C, S, S]); // [1, C, S, S]
      let t0 = performance.now();
      const epsWgsl = await ug.forward(x, t, y); // [C, S, S]
      const wgslMs = performance.now() - t0;
      ms.wgsl += wgslMs;
      t0 = performance.now();
      const out = await session.run({
        x: new ort.Tensor('float32', x, [1, C, S, S]),
        t: new ort.Tensor('float32', Float32Array.of(t), [1]),
        y: new ort.Tensor('int64', BigInt64Array.of(BigInt(y)), [1]),
      });
      ms.ort += performance.now() - t0;
      const epsOrt = out.eps?.data as Float32Array | undefined; // [1, C, S, S]
      if (!epsOrt) throw new Error(`unet check: the ONNX model has no output "eps" (outputs: ${Object.keys(out).join(', ')})`);
      cases.push({
        n: i, t, y,
        wgslVsOrt: maxAbsDiff(epsWgsl, epsOrt),
        wgslVsTorch: maxAbsDiff(epsWgsl, epsTorch),
        ortVsTorch: maxAbsDiff(epsOrt, epsTorch),
        torchMaxAbs: epsTorch.reduce((m, v) => Math.max(m, Math.abs(v)), 0),
        wgslMs,
      });
    }
  } finally {
    ug.destroy();
    gpu.destroy();
    await session.release();
  }
  const r = gpu.report;
  return {
    adapter: `${r.vendor} ${r.architecture} ${r.description}`.trim(),
    ortBackend: 'wasm',
    cases,
    maxWgslVsOrt: Math.max(...cases.map((c) => c.wgslVsOrt)),
    maxWgslVsTorch: Math.max(...cases.map((c) => c.wgslVsTorch)),
    maxOrtVsTorch: Math.max(...cases.map((c) => c.ortVsTorch)),
    ms,
  };
}
