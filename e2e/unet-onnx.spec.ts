// fm-unet in the browser against an independent runtime: in a coordinator page of the app, the WGSL
// forward (UnetGpu on the page's WebGPU adapter) and onnxruntime-web (wasm) running the exported
// /fm-unet/fm-unet.onnx on the golden inputs of /fm-unet/golden.safetensors. They must agree within
// 1e-4, and both must match PyTorch's eps from the same file.
import { test, expect } from '@playwright/test';

test('fm-unet: WGSL forward vs onnxruntime-web (wasm) vs PyTorch on the golden inputs', async ({ page }) => {
  page.on('pageerror', (e) => console.log('[page error]', e.message));
  await page.goto('/');
  await expect(page.getByTestId('join-link')).toContainText('#join=');
  const r = await page.evaluate(() => window.tabmesh.checkUnetOnnx());
  console.log(`adapter ${r.adapter}; WGSL ${r.ms.wgsl.toFixed(0)} ms, ORT ${r.ms.ort.toFixed(0)} ms for ${r.cases.length} forwards`);
  for (const c of r.cases) console.log(`  case ${c.n} (t ${c.t}, y ${c.y}): |wgsl-ort| ${c.wgslVsOrt.toExponential(2)}, |wgsl-torch| ${c.wgslVsTorch.toExponential(2)}, |ort-torch| ${c.ortVsTorch.toExponential(2)}, |eps| <= ${c.torchMaxAbs.toFixed(2)}; WGSL ${c.wgslMs.toFixed(0)} ms`);
  expect(r.cases.length).toBe(4);
  for (const c of r.cases) expect(c.torchMaxAbs).toBeGreaterThan(0.1); // a real signal, not zeros
  expect(r.maxWgslVsOrt).toBeLessThanOrEqual(1e-4);
  expect(r.maxWgslVsTorch).toBeLessThanOrEqual(1e-4);
  expect(r.maxOrtVsTorch).toBeLessThanOrEqual(1e-4);
});
