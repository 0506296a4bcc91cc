// Run an ONNX model (.onnx or ORT format .ort) with onnxruntime-node: node run_model.mjs MODEL FEEDS.json
// FEEDS.json: {"input name": {"type": "float32", "dims": [1, 3], "data": [...]}}; prints the outputs as JSON.
import * as ort from "onnxruntime-node";
import { readFileSync } from "node:fs";

const [modelPath, feedsPath] = process.argv.slice(2);
const session = await ort.InferenceSession.create(modelPath);
const feeds = {};
for (const [name, t] of Object.entries(JSON.parse(readFileSync(feedsPath, "utf8")))) {
  feeds[name] = new ort.Tensor(t.type, Float32Array.from(t.data), t.dims);
}
const results = await session.run(feeds);
const outputs = {};
for (const name of session.outputNames) {
  outputs[name] = { type: results[name].type, dims: results[name].dims, data: Array.from(results[name].data) };
}
console.log(JSON.stringify(outputs));
