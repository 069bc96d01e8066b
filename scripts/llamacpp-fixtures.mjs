// Makes test/fixtures/llamacpp-stories260K.json: llama.cpp's own tokenization and raw next-token
// logits for a few prompts on ../shared/models/stories260K/stories260K.gguf, through node-llama-cpp
// (llama.cpp's CPU backend). It is the independent reference the model tests compare against.
// node-llama-cpp is not a project dependency (it is large and only needed to regenerate this file):
//   mkdir -p /tmp/llc && cd /tmp/llc && npm i node-llama-cpp && cd - && \
//   NODE_PATH=/tmp/llc/node_modules node scripts/llamacpp-fixtures.mjs
import fs from 'node:fs';
import path from 'node:path';
import { createRequire } from 'node:module';

const require = createRequire(path.join(process.env.NODE_PATH ?? '.', 'x.js'));
const { getLlama } = await import(require.resolve('node-llama-cpp'));
const modelPath = path.resolve(process.argv[2] ?? '../shared/models/stories260K/stories260K.gguf');
const PROMPTS = ['', 'Once upon a time', 'Lily wanted to play with the big red ball.', 'The cat sat on the mat and', 'Tom and Sue went to the park. They saw a dog'];

const llama = await getLlama({ gpu: false });
const model = await llama.loadModel({ modelPath });
const out = { generator: 'scripts/llamacpp-fixtures.mjs', llamaCpp: `node-llama-cpp ${JSON.parse(fs.readFileSync(path.join(path.dirname(require.resolve('node-llama-cpp')), '..', 'package.json'), 'utf8')).version}`, model: path.basename(modelPath), prompts: [] };
for (const text of PROMPTS) {
  // f32 KV cache and no flash attention: llama.cpp's defaults (f16 K/V, and a CPU flash-attention
  // kernel that rounds through f16) move the logits by up to 1e-2; with these its logits are exact f32.
  const context = await model.createContext({ contextSize: 256, experimentalKvCacheKeyType: 'F32', experimentalKvCacheValueType: 'F32', flashAttention: false });
  const seq = context.getSequence();
  const tokens = [1, ...model.tokenize(text)]; // BOS + llama.cpp's own tokenization
  const res = await seq.controlledEvaluate(tokens.map((t, i) => (i === tokens.length - 1 ? [t, { generateNext: { logits: true } }] : t)));
  const logitsMap = res[tokens.length - 1].next.logits;
  const logits = new Array(512).fill(0); // stories260K's vocabulary
  for (const [tok, v] of logitsMap) logits[tok] = v;
  out.prompts.push({ text, tokens, logits });
  await context.dispose();
}
fs.writeFileSync('test/fixtures/llamacpp-stories260K.json', JSON.stringify(out));
console.log(`wrote ${out.prompts.length} prompts`);
process.exit(0);
