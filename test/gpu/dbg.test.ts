import { it } from 'vitest';
import { testGpu } from '../helpers/gpu';
it('x', async () => {
  const gpu = await testGpu();
  const data = new Float32Array([1, 2, 3, 4, 5, 6, 7]); // [7]
  const buf = gpu.upload(data);
  console.log('a', [...new Float32Array(await gpu.read(buf, 28))]);
  gpu.write(buf, new Float32Array([9, 8]), 8);
  console.log('b');
  console.log('c', [...new Float32Array(await gpu.read(buf, 12, 4))]);
  const odd = gpu.upload(new Uint8Array([1, 2, 3, 4, 5]));
  console.log('d');
  gpu.write(odd, new Uint8Array([7, 7, 7, 7, 9]));
  console.log('e', [...new Uint8Array(await gpu.read(odd, 5))]);
});
