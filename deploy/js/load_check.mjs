// Can this npm runtime load these models? node load_check.mjs web|node MODEL...
// One JSON line per model: {"model": path, "ok": true} or {"model": path, "ok": false, "error": "<its message>"}.
// "web" is onnxruntime-web on its WebAssembly backend (what a browser runs), "node" is onnxruntime-node.
const [runtime, ...models] = process.argv.slice(2);
const ort = runtime === "web" ? await import("onnxruntime-web") : await import("onnxruntime-node");
if (runtime === "web") ort.env.wasm.numThreads = 1;
for (const model of models) {
  try {
    const session = await ort.InferenceSession.create(model);
    await session.release();
    console.log(JSON.stringify({ model, ok: true }));
  } catch (error) {
    console.log(JSON.stringify({ model, ok: false, error: String(error?.message ?? error) }));
  }
}
