// The pipeline cache of the Gpu contract: one compute pipeline per (shader text, entry point, override
// constants), compiled on first use; WGSL errors are collected from getCompilationInfo() and thrown by
// checkCompiles() (Gpu.read() awaits it, Gpu.compile() right away).
import type { Kernel } from './gpu';

export interface Pipe {
  pipe: GPUComputePipeline;
  id: number;
  layout: GPUBindGroupLayout;
  entry: string;
  constants: Record<string, number> | undefined; // a copy of the kernel's, compared by value
}

/** Same override constants, by value (key order aside); no allocation, unlike a JSON key per dispatch. */
function sameConstants(a: Record<string, number> | undefined, b: Record<string, number> | undefined): boolean {
  if (a === b) return true;
  if (!a || !b) return false;
  let n = 0;
  for (const k in a) {
    if (a[k] !== b[k]) return false;
    n++;
  }
  for (const k in b) if (--n < 0 || !(k in a)) return false;
  return n === 0;
}

export class Pipelines {
  // code -> its pipelines (entry point, constants): a few per shader, found by a scan with value compares.
  // Why not a string key: run() looks the pipeline up per dispatch, and a JSON.stringify(constants) key per
  // call cost 1-4 us of the 8-13 us a run() with a fresh constants object took (lavapipe microbenchmark; at
  // model level the native Dawn calls dominate and the change was within noise).
  private byCode = new Map<string, Pipe[]>();
  private nextId = 1;
  private checks: Promise<void>[] = []; // getCompilationInfo() of new modules

  constructor(private readonly device: GPUDevice) {}

  /** The pipeline of `kernel`, created (and its compilation check queued) on first use. */
  get(kernel: Kernel): Pipe {
    const entry = kernel.entryPoint ?? 'main';
    let known = this.byCode.get(kernel.code);
    if (!known) this.byCode.set(kernel.code, (known = []));
    for (const p of known) if (p.entry === entry && sameConstants(p.constants, kernel.constants)) return p;
    const module = this.device.createShaderModule({ code: kernel.code, label: kernel.file });
    this.checks.push(
      module.getCompilationInfo().then((info) => {
        const errs = info.messages.filter((m) => m.type === 'error');
        if (errs.length) {
          throw new Error(
            `WGSL compile error in ${kernel.file}:\n` +
              errs.map((m) => `  ${kernel.file}:${m.lineNum}:${m.linePos}: ${m.message}`).join('\n'),
          );
        }
      }),
    );
    const p = this.device.createComputePipeline({
      label: `${kernel.file}:${entry}`,
      layout: 'auto',
      compute: { module, entryPoint: entry, constants: kernel.constants },
    });
    const pipe: Pipe = { pipe: p, id: this.nextId++, layout: p.getBindGroupLayout(0), entry, constants: kernel.constants && { ...kernel.constants } };
    known.push(pipe);
    return pipe;
  }

  /** Resolves once every shader compiled so far is known good; throws the WGSL errors (with file) otherwise. */
  async checkCompiles(): Promise<void> {
    const checks = this.checks;
    this.checks = [];
    await Promise.all(checks);
  }

  clear(): void {
    this.byCode.clear();
  }
}
