// Times the ONNX Runtime contender of make bench in a process of its own:
//     node ort_bench.js MODEL.onnx BATCH THREADS STEPS [C,H,W]
// Evaluation-mode inference with every graph optimization and THREADS
// intra-op threads; untimed runs first, at least three and for at least a
// second. Prints one line: images/s.
const ort = require("onnxruntime-node");

async function main() {
  const [file, batch, threads, steps, chw = "1,28,28"] = process.argv.slice(2);
  const n = Number(batch);
  const shape = chw.split(",").map(Number);
  const per = shape.reduce((a, b) => a * b, 1);
  const session = await ort.InferenceSession.create(file, {
    intraOpNumThreads: Number(threads),
    interOpNumThreads: 1,
    graphOptimizationLevel: "all",
    executionMode: "sequential",
  });
  const data = Float32Array.from({length: n * per}, (_, i) => Math.sin(i));
  const feeds = {x: new ort.Tensor("float32", data, [n, ...shape])};
  const warm = process.hrtime.bigint();
  for (let i = 0; i < 1000; i++) {
    await session.run(feeds);
    if (i >= 2 && Number(process.hrtime.bigint() - warm) > 1e9) break;
  }
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < Number(steps); i++) await session.run(feeds);
  const secs = Number(process.hrtime.bigint() - t0) / 1e9;
  console.log((Number(steps) * n / secs).toFixed(2));
}

main().catch((e) => { console.error(`ort_bench: ${e.message}`); process.exit(1); });
