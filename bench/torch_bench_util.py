# Shared by the vendor-anchor benches (cublas-sgemm.py, cublas-gemv.py, torch-decode-attention.py): CUDA-event
# timing of back-to-back calls and the JSON + markdown output under $OUT (default bench/out).
import json, os
import torch


def time_ms(call, reps, runs=5):
    """ms per call(i) for i in range(reps), timed with CUDA events: the median of `runs` runs."""
    times = []
    for _ in range(runs):
        torch.cuda.synchronize()
        s, e = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        s.record()
        for i in range(reps):
            call(i)
        e.record()
        torch.cuda.synchronize()
        times.append(s.elapsed_time(e) / reps)
    return sorted(times)[len(times) // 2]


def write_result(prefix, res, md_lines):
    """Prints the markdown and writes <prefix>-<gpu>-<date>.{json,md} under $OUT."""
    print('\n'.join(md_lines))
    out = os.environ.get('OUT', 'bench/out')
    os.makedirs(out, exist_ok=True)
    base = os.path.join(out, f'{prefix}-{res["gpu"].lower().replace(" ", "-")}-{res["date"][:10]}')
    with open(base + '.json', 'w') as f:
        f.write(json.dumps(res, indent=2))
    with open(base + '.md', 'w') as f:
        f.write('\n'.join(md_lines) + '\n')
