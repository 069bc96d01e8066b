// A per-peer Gantt timeline of DistriFusion steps (compute vs waiting on the exchange), drawn with
// chart.js floating horizontal bars: one row per peer, one bar pair per step.
import { BarController, BarElement, CategoryScale, Chart, Legend, LinearScale, Tooltip } from 'chart.js';

Chart.register(BarController, BarElement, CategoryScale, LinearScale, Legend, Tooltip);

interface Seg { x: [number, number]; y: string; step: number; sync: boolean }

export interface Timeline {
  add(peer: number, step: number, startMs: number, computeMs: number, waitMs: number, sync: boolean): void;
  destroy(): void;
}

export function createTimeline(canvas: HTMLCanvasElement, peers: string[], colours: string[]): Timeline {
  const compute: Seg[] = [];
  const wait: Seg[] = [];
  const chart = new Chart(canvas, {
    type: 'bar',
    data: {
      labels: peers,
      datasets: [
        { label: 'compute', data: compute as never, backgroundColor: (c) => colours[peers.indexOf((c.raw as Seg | undefined)?.y ?? '') % colours.length] ?? '#888', grouped: false },
        { label: 'waiting on exchange', data: wait as never, backgroundColor: '#9ca3af', grouped: false },
      ],
    },
    options: {
      indexAxis: 'y',
      animation: false,
      responsive: false,
      parsing: { xAxisKey: 'x', yAxisKey: 'y' },
      scales: { x: { type: 'linear', title: { display: true, text: 'ms since start' } }, y: { type: 'category' } },
      plugins: {
        tooltip: { callbacks: { label: (c) => { const s = c.raw as Seg; return `step ${s.step}${s.sync ? ' (sync)' : ''}: ${(s.x[1] - s.x[0]).toFixed(1)} ms`; } } },
      },
    },
  });
  let queued = false;
  const redraw = () => {
    if (queued) return;
    queued = true;
    requestAnimationFrame(() => { queued = false; chart.update(); });
  };
  return {
    add(peer, step, startMs, computeMs, waitMs, sync) {
      const y = peers[peer];
      // Waits happen inside the step (halo/stat gathers, the eps gather); drawn after the compute
      // part so the bar's total length is the step's wall time.
      compute.push({ x: [startMs, startMs + computeMs], y, step, sync });
      if (waitMs > 0) wait.push({ x: [startMs + computeMs, startMs + computeMs + waitMs], y, step, sync });
      redraw();
    },
    destroy: () => chart.destroy(),
  };
}
