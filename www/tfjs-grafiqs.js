// GraFIQs in TensorFlow.js, for the browser benchmark's same-run comparison (www/bench.js):
// the computation the package runs (inference-mode forward pass, the BatchNorm-statistics loss,
// the five sums of absolute gradients), built in TF.js from a `.grafiqs` model file.
//
// The network is read from the file's own graph (the header's `graph.nodes`): 2-D convolutions
// (dense or depthwise), each followed by its BatchNorm, ReLU, ReLU6 and residual additions,
// which is every layer of the shipped MobileFaceNet (ReLU6) up to the last BatchNorm of the
// loss. Nodes after that BatchNorm (the embedding head) do not influence the scores and are
// not built. Tensors are NHWC, batch 1; weights are converted once, at load.
//
// The backward pass is written out with forward ops: TF.js's WebAssembly backend has no
// kernels for most gradients (depthwise backprop, ReLU6 grad, …), and the analytic gradients
// are cheaper anyway. Per convolution + BatchNorm pair, with BN scale s = γ/√(var_r + ε) and
// shift b = β − s·mean_r:
//
//  - forward: the BatchNorm is folded into the convolution (weights ·s, bias b), so one fused
//    convolution gives the BN output z. The BN input a = (z − b)/s never needs to exist: its
//    statistics follow from z's, μ_a − mean_r = (μ_z − β)/s and σ²_a = σ²_z/s²;
//  - loss gradient at the BN input, for a layer with C channels and N = H·W positions, over
//    L loss layers: ∂L/∂a = (1/L)·[2(μ_a − mean_r)/(C·N) + 4(σ²_a − var_r)(a − μ_a)/(C·N)];
//  - BN backward multiplies by s. Dividing everything at the BN input by s moves that factor
//    into the convolution's backward weights, which are then the folded forward weights,
//    flipped in space and transposed in channels. What reaches the convolution is
//    g̃ = ∂L/∂z + h with h = (∂L/∂a)/s = (z − μ_z)·4(σ²_z − s²·var_r)/(s⁴·C·N·L)
//    + (μ_z − β)·2/(s²·C·N·L), computed in the forward pass (per-channel coefficients, then
//    one broadcast multiply and subtract over the map);
//  - input gradient of a convolution: stride 1, the correlation of g̃ with the backward
//    weights; a depthwise convolution with stride S, the same on g̃ with S − 1 zeros stuffed
//    between samples; a dense convolution with stride S (the stem), one stride-1 convolution
//    giving all S×S phases of the input grid as channels, then interleaved (`polyphase`);
//    a global depthwise convolution (7×7 map → 1×1), a broadcast product;
//  - ReLU / ReLU6 backward: the gradient times the mask of the inputs the activation passed
//    (ReLU: step(z); ReLU6: step(y·(6 − y)), which is 1 exactly where 0 < y < 6).
// Everything of one score runs inside one `tf.tidy`; only the five sums are read back.

const MAGIC = 'GRAFIQS\0';

let halfTable;
/** IEEE half → float, all 65,536 values (subnormals, infinities and NaN included). */
function halfToFloat(h) {
  if (!halfTable) {
    halfTable = new Float32Array(65536);
    for (let i = 0; i < 65536; i++) {
      const sign = i & 0x8000 ? -1 : 1;
      const e = (i >> 10) & 0x1f;
      const f = i & 0x3ff;
      halfTable[i] = e === 0 ? sign * f * 2 ** -24 : e === 31 ? (f ? NaN : sign * Infinity) : sign * (1 + f / 1024) * 2 ** (e - 15);
    }
  }
  return halfTable[h];
}

/**
 * Parses a `.grafiqs` container (src/model/container.rs): magic, version 1, JSON header,
 * data section of little-endian f32/f16 tensors. The trailing CRC-32 is not checked here: the
 * benchmark loads the same file through the package, which checks it.
 * Returns `{ header, tensors: Map<name, { shape, values: Float32Array }> }`.
 */
export function parseModel(bytes) {
  const u8 = bytes instanceof Uint8Array ? bytes : new Uint8Array(bytes);
  if (u8.length < 28 || String.fromCharCode(...u8.subarray(0, 8)) !== MAGIC) throw new Error('not a grafiqs model file');
  const dv = new DataView(u8.buffer, u8.byteOffset, u8.byteLength);
  const version = dv.getUint32(8, true);
  if (version !== 1) throw new Error(`model format version ${version} is not supported`);
  const dataStart = 24 + Number(dv.getBigUint64(16, true));
  const bodyEnd = u8.length - 4;
  if (dataStart > bodyEnd) throw new Error('truncated model file');
  const header = JSON.parse(new TextDecoder().decode(u8.subarray(24, dataStart)));
  const tensors = new Map();
  for (const t of header.tensors ?? []) {
    const n = t.shape.reduce((a, b) => a * b, 1);
    const size = { f32: 4, f16: 2 }[t.dtype];
    if (!size) throw new Error(`tensor ${t.name}: unknown dtype ${t.dtype}`);
    if (t.length !== n * size || t.offset + t.length > bodyEnd - dataStart) throw new Error(`tensor ${t.name}: bad extent`);
    const at = dataStart + t.offset;
    const values = new Float32Array(n);
    if (size === 4) for (let i = 0; i < n; i++) values[i] = dv.getFloat32(at + 4 * i, true);
    else for (let i = 0; i < n; i++) values[i] = halfToFloat(dv.getUint16(at + 2 * i, true));
    tensors.set(t.name, { shape: t.shape, values });
  }
  delete header.tensors;
  return { header, tensors };
}

/**
 * Selects and initialises a TF.js backend. For `wasm`: the binaries are fetched from
 * `wasmPaths` (a URL prefix ending in "/"), XNNPACK runs with `threads` threads, and with one
 * thread the multithreaded binary is not considered. Resolves to `{ backend, simd, threads }`
 * (what the backend actually runs: SIMD build or not, XNNPACK thread count).
 */
export async function initBackend(tf, { backend = 'wasm', wasmPaths, threads = 1 } = {}) {
  if (backend === 'wasm') {
    if (!tf.wasm) throw new Error('the TF.js WebAssembly backend (tf-backend-wasm) is not loaded');
    if (wasmPaths) tf.wasm.setWasmPaths(wasmPaths);
    tf.wasm.setThreadsCount(threads);
    if (threads === 1) tf.env().set('WASM_HAS_MULTITHREAD_SUPPORT', false);
  }
  if (!(await tf.setBackend(backend))) throw new Error(`TF.js backend ${backend} did not initialise`);
  await tf.ready();
  if (backend !== 'wasm') return { backend: tf.getBackend(), simd: null, threads: 1 };
  const multithread = await tf.env().getAsync('WASM_HAS_MULTITHREAD_SUPPORT');
  return {
    backend: tf.getBackend(),
    simd: await tf.env().getAsync('WASM_HAS_SIMD_SUPPORT'),
    threads: multithread ? tf.wasm.getThreadsCount() : 1,
  };
}

const SCORE_KEYS = ['image', 'block1', 'block2', 'block3', 'block4'];

/**
 * Builds the network of `modelBytes` (a `.grafiqs` file) in TF.js on the current backend.
 * Returns `{ name, lossLayers, score(image), dispose() }`; `score` takes RGBA pixels at the
 * model's input size (`{ data, width, height }`, e.g. ImageData) and resolves to
 * `{ image, block1, block2, block3, block4, ms }` (raw scores; `ms`: wall time of the call).
 */
export function createTfjsScorer(tf, modelBytes) {
  const { header, tensors } = parseModel(modelBytes);
  if (header.kind !== 'recognition') throw new Error(`not a face-recognition model (kind ${header.kind})`);
  const { meta, graph } = header;
  const [inH, inW] = meta.input_size;
  const pre = meta.preprocess;
  const nodes = graph.nodes;
  const param = (name) => {
    const t = tensors.get(name);
    if (!t) throw new Error(`model has no tensor ${name}`);
    return t.values;
  };

  // Shapes ([H, W, C], or [n] after a flatten) and the BatchNorms of the loss (spatial input).
  const shapes = [[inH, inW, 3]];
  const lossBns = [];
  for (let i = 1; i < nodes.length; i++) {
    const n = nodes[i];
    const s = shapes[n.inputs[0]];
    if (n.op === 'conv2d') {
      const [kh, kw] = n.kernel;
      const [sh, sw] = n.stride;
      const [ph, pw] = n.padding;
      shapes.push([Math.floor((s[0] + 2 * ph - kh) / sh) + 1, Math.floor((s[1] + 2 * pw - kw) / sw) + 1, n.out_channels]);
    } else if (n.op === 'flatten') shapes.push([s.reduce((a, b) => a * b, 1)]);
    else shapes.push(s);
    if (n.op === 'batch_norm' && s.length === 3) lossBns.push(i);
  }
  const last = lossBns.at(-1);
  const L = lossBns.length;
  const stageNodes = graph.stages;
  if (!L || stageNodes.length !== 4 || stageNodes.some((s) => s > last)) throw new Error('unexpected graph: no loss layers or stages after them');
  const consumers = nodes.map(() => []);
  for (let i = 1; i <= last; i++) for (const j of nodes[i].inputs) consumers[j].push(i);

  const owned = [];
  const keep = (t) => (owned.push(t), t);
  const channelVec = (v) => keep(tf.tensor4d(v, [1, 1, 1, v.length]));
  const six = keep(tf.scalar(6));

  // One fused unit per convolution + BatchNorm, keyed by the BatchNorm's node index.
  const units = new Map();
  for (let i = 1; i <= last; i++) {
    const n = nodes[i];
    if (['input', 'relu', 'relu6', 'add'].includes(n.op)) continue;
    if (n.op === 'conv2d') {
      if (consumers[i].length !== 1 || nodes[consumers[i][0]].op !== 'batch_norm') throw new Error(`convolution ${n.name} is not followed by its BatchNorm`);
      continue;
    }
    if (n.op !== 'batch_norm') throw new Error(`operation ${n.op} (${n.name}) is not supported`);
    const convIdx = n.inputs[0];
    const conv = nodes[convIdx];
    if (conv.op !== 'conv2d') throw new Error(`BatchNorm ${n.name} does not follow a convolution`);
    units.set(i, buildUnit(conv, n, shapes[conv.inputs[0]], shapes[i]));
  }

  function buildUnit(conv, bn, inShape, outShape) {
    const [n0, n1, cin] = inShape;
    const [m0, m1, c] = outShape;
    const [kh, kw] = conv.kernel;
    const [sh, sw] = conv.stride;
    const [ph, pw] = conv.padding;
    const depthwise = conv.groups === cin && conv.groups === c && c > 1;
    if (conv.groups !== 1 && !depthwise) throw new Error(`grouped convolution ${conv.name} is not supported`);
    const w = param(conv.weight);
    const convBias = conv.bias ? param(conv.bias) : null;
    const gamma = param(bn.gamma);
    const beta = param(bn.beta);
    const rm = param(bn.mean);
    const rv = param(bn.var);
    const scale = new Float32Array(c);
    const shift = new Float32Array(c);
    const rvS2 = new Float32Array(c);
    const k1 = new Float32Array(c);
    const k2 = new Float32Array(c);
    const cnl = c * m0 * m1 * L;
    for (let o = 0; o < c; o++) {
      const s = gamma[o] / Math.sqrt(rv[o] + bn.eps);
      if (!(Math.abs(s) > 0)) throw new Error(`BatchNorm ${bn.name} has a zero scale in channel ${o}`);
      scale[o] = s;
      shift[o] = beta[o] + s * ((convBias ? convBias[o] : 0) - rm[o]);
      rvS2[o] = rv[o] * s * s;
      k1[o] = 2 / (s * s * cnl);
      k2[o] = 4 / (s * s * s * s * cnl);
    }
    // Forward weights, BN folded in: HWIO (dense) or [kh, kw, C, 1] (depthwise). Backward:
    // flipped in space, input and output channels swapped.
    const ci = depthwise ? 1 : cin;
    const fwd = new Float32Array(kh * kw * ci * c);
    const bwd = new Float32Array(kh * kw * ci * c);
    for (let o = 0; o < c; o++) {
      for (let i = 0; i < ci; i++) {
        for (let u = 0; u < kh; u++) {
          for (let v = 0; v < kw; v++) {
            const x = w[((o * ci + i) * kh + u) * kw + v] * scale[o];
            const uf = kh - 1 - u;
            const vf = kw - 1 - v;
            if (depthwise) {
              fwd[(u * kw + v) * c + o] = x;
              bwd[(uf * kw + vf) * c + o] = x;
            } else {
              fwd[((u * kw + v) * ci + i) * c + o] = x;
              bwd[((uf * kw + vf) * c + o) * ci + i] = x;
            }
          }
        }
      }
    }
    const unit = {
      input: conv.inputs[0],
      depthwise,
      positions: m0 * m1,
      strides: [sh, sw],
      pad: ph === pw ? ph : [[0, 0], [ph, ph], [pw, pw], [0, 0]],
      filter: keep(depthwise ? tf.tensor4d(fwd, [kh, kw, c, 1]) : tf.tensor4d(fwd, [kh, kw, cin, c])),
      bias: keep(tf.tensor1d(shift)),
      beta: channelVec(beta),
      rvS2: channelVec(rvS2),
      k1: channelVec(k1),
      nk2: channelVec(k2.map((x) => -x)),
      zeros: channelVec(new Float32Array(c)),
      ones: channelVec(new Float32Array(c).fill(1)),
    };
    if (depthwise && m0 === 1 && m1 === 1 && kh === n0 && kw === n1 && ph === 0 && pw === 0) {
      // A global depthwise convolution: ∂/∂x = weights × the gradient per channel.
      unit.global = keep(tf.tensor4d(fwd, [1, kh, kw, c]));
      return unit;
    }
    const poly = !depthwise && sh === sw && sh > 1 && polyphase(fwd, [kh, kw], [sh, sw], [ph, pw], [n0, n1], [m0, m1], cin, c);
    if (poly) {
      unit.poly = { filter: keep(tf.tensor4d(poly.filter, poly.shape)), pad: poly.pad, shape: [m0, m1, sh, cin] };
      return unit;
    }
    unit.backFilter = keep(depthwise ? tf.tensor4d(bwd, [kh, kw, c, 1]) : tf.tensor4d(bwd, [kh, kw, c, cin]));
    // Padding of the (stuffed) gradient so that the correlation returns the input's size.
    const pads = [kh - 1 - ph, n0 + ph - m0 * sh, kw - 1 - pw, n1 + pw - m1 * sw];
    if (pads.some((p) => p < 0)) throw new Error(`convolution ${conv.name}: geometry not supported`);
    unit.backPad = pads.every((p) => p === pads[0]) ? pads[0] : [[0, 0], [pads[0], pads[1]], [pads[2], pads[3]], [0, 0]];
    unit.stuffed = [m0, sh, m1, sw, c];
    return unit;
  }

  /**
   * Input gradient of a dense convolution with stride S as one stride-1 convolution of the
   * gradient producing all S×S phases of the input grid at once. Input position
   * S·p + r receives tap t from gradient position p + d with d = (r + pad − t)/S (integral d
   * only), so each phase is a small correlation over offsets d; the phases come out as
   * channels (r0·S + r1)·C_in + i. Returns null when the geometry does not allow it (input
   * size not S × output size).
   */
  function polyphase(fwd, [kh, kw], [sh, sw], [ph, pw], [n0, n1], [m0, m1], cin, c) {
    if (n0 !== m0 * sh || n1 !== m1 * sw) return null;
    const taps = (k, s, p) => {
      const list = [];
      for (let r = 0; r < s; r++) for (let t = 0; t < k; t++) if ((r + p - t) % s === 0) list.push({ r, t, d: (r + p - t) / s });
      const ds = list.map((x) => x.d);
      return { list, lo: Math.min(...ds), hi: Math.max(...ds) };
    };
    const a = taps(kh, sh, ph);
    const b = taps(kw, sw, pw);
    if (a.lo > 0 || b.lo > 0 || a.hi < 0 || b.hi < 0) return null;
    const [wa, wb] = [a.hi - a.lo + 1, b.hi - b.lo + 1];
    const out = sh * sw * cin;
    const filter = new Float32Array(wa * wb * c * out);
    for (const u of a.list) {
      for (const v of b.list) {
        for (let o = 0; o < c; o++) {
          for (let i = 0; i < cin; i++) {
            const phase = (u.r * sw + v.r) * cin + i;
            filter[(((u.d - a.lo) * wb + (v.d - b.lo)) * c + o) * out + phase] = fwd[((u.t * kw + v.t) * cin + i) * c + o];
          }
        }
      }
    }
    return { filter, shape: [wa, wb, c, out], pad: [[0, 0], [-a.lo, a.hi], [-b.lo, b.hi], [0, 0]] };
  }

  const conv = (x, filter, depthwise, strides, pad, bias) =>
    bias
      ? depthwise
        ? tf.fused.depthwiseConv2d({ x, filter, strides, pad, bias })
        : tf.fused.conv2d({ x, filter, strides, pad, bias })
      : depthwise
        ? tf.depthwiseConv2d(x, filter, strides, pad)
        : tf.conv2d(x, filter, strides, pad);

  /** Input gradient of a unit's convolution for g̃ (the gradient at its BN input, ÷ s). */
  function convBackward(u, g) {
    if (u.global) return tf.mul(g, u.global);
    if (u.poly) {
      // Phases (r0, r1, i) as channels → interleave (a transpose; faster than depthToSpace).
      const [m0, m1, s, cin] = u.poly.shape;
      const phases = tf.reshape(conv(g, u.poly.filter, false, 1, u.poly.pad, null), [m0, m1, s, s, cin]);
      return tf.reshape(tf.transpose(phases, [0, 2, 1, 3, 4]), [1, m0 * s, m1 * s, cin]);
    }
    const [m0, s0, m1, s1, c] = u.stuffed;
    let x = g;
    if (s0 > 1 || s1 > 1) {
      x = tf.pad(tf.reshape(g, [m0, 1, m1, 1, c]), [[0, 0], [0, s0 - 1], [0, 0], [0, s1 - 1], [0, 0]]);
      x = tf.reshape(x, [1, m0 * s0, m1 * s1, c]);
    }
    return conv(x, u.backFilter, u.depthwise, 1, u.backPad, null);
  }

  // The per-channel statistics and coefficients call the kernels directly: `tf.avgPool` and
  // `tf.batchNorm` add reshapes and casts around them, and these small ops run ~100 times per
  // score. `channelMean`: the mean over H×W, [1, 1, 1, C]. `affine`: (x − m)·s + o per
  // channel (`FusedBatchNorm` with unit variance and ε = 0); all operands [1, 1, 1, C].
  const channelMean = (x) => tf.engine().runKernel('AvgPool', { x }, { filterSize: [x.shape[1], x.shape[2]], strides: 1, pad: 'valid' });
  const affine = (u, x, m, s, o) => tf.engine().runKernel('FusedBatchNorm', { x, mean: m, variance: u.ones, scale: s, offset: o }, { varianceEpsilon: 0 });

  function normalise(img) {
    if (img.width !== inW || img.height !== inH) throw new Error(`image must be ${inW}×${inH}, got ${img.width}×${img.height}`);
    const px = img.data;
    if (px.length !== inW * inH * 4) throw new Error(`an RGBA ${inW}×${inH} image has ${inW * inH * 4} bytes, got ${px.length}`);
    const out = new Float32Array(inH * inW * 3);
    const [m0, m1, m2] = pre.mean;
    const [s0, s1, s2] = pre.scale;
    for (let p = 0, q = 0; p < px.length; p += 4, q += 3) {
      out[q] = (px[p] - m0) * s0;
      out[q + 1] = (px[p + 1] - m1) * s1;
      out[q + 2] = (px[p + 2] - m2) * s2;
    }
    return out;
  }

  /** The five sums, as one [5] tensor (forward + backward, all intermediates released). */
  function sums(pixels) {
    return tf.tidy(() => {
      const out = new Array(last + 1);
      const h = new Map();
      const mask = new Map();
      out[0] = tf.tensor4d(pixels, [1, inH, inW, 3]);
      for (let i = 1; i <= last; i++) {
        const n = nodes[i];
        const x = out[n.inputs[0]];
        if (n.op === 'conv2d') continue;
        if (n.op === 'batch_norm') {
          const u = units.get(i);
          const z = conv(out[u.input], u.filter, u.depthwise, u.strides, u.pad, u.bias);
          out[i] = z;
          if (u.positions === 1) {
            // One position: zero variance, the loss gradient is the mean term alone.
            h.set(i, affine(u, z, u.beta, u.k1));
          } else {
            const mu = channelMean(z);
            const v = channelMean(tf.squaredDifference(z, mu));
            // h = (z − μ)·b + a = c − z·(−b), c = a − μ·b: a, −b and c per channel.
            const a = affine(u, mu, u.beta, u.k1);
            const nb = affine(u, v, u.rvS2, u.nk2);
            const c = affine(u, mu, u.zeros, nb, a);
            h.set(i, tf.sub(c, tf.mul(z, nb)));
          }
        } else if (n.op === 'relu') {
          out[i] = tf.relu(x);
          mask.set(i, tf.step(x));
        } else if (n.op === 'relu6') {
          out[i] = tf.relu6(x);
          mask.set(i, tf.step(tf.mul(out[i], tf.sub(six, out[i]))));
        } else if (n.op === 'add') {
          out[i] = tf.add(x, out[n.inputs[1]]);
        }
      }

      const grad = new Array(last + 1);
      const accumulate = (j, g) => {
        grad[j] = grad[j] ? tf.add(grad[j], g) : g;
      };
      for (let i = last; i >= 1; i--) {
        const n = nodes[i];
        const g = grad[i];
        if (n.op === 'batch_norm') {
          const u = units.get(i);
          accumulate(u.input, convBackward(u, g ? tf.add(g, h.get(i)) : h.get(i)));
        } else if (!g || n.op === 'conv2d') {
          continue;
        } else if (n.op === 'relu' || n.op === 'relu6') {
          accumulate(n.inputs[0], tf.mul(g, mask.get(i)));
        } else if (n.op === 'add') {
          accumulate(n.inputs[0], g);
          accumulate(n.inputs[1], g);
        }
      }
      const total = (g) => (g ? tf.sum(tf.abs(g)) : tf.scalar(0));
      return tf.stack([total(grad[0]), ...stageNodes.map((s) => total(grad[s]))]);
    });
  }

  return {
    name: meta.name ?? meta.architecture,
    lossLayers: L,
    async score(img) {
      const t0 = performance.now();
      const t = sums(normalise(img));
      const v = await t.data();
      t.dispose();
      const r = Object.fromEntries(SCORE_KEYS.map((k, i) => [k, v[i]]));
      r.ms = performance.now() - t0;
      return r;
    },
    dispose() {
      for (const t of owned) t.dispose();
      owned.length = 0;
    },
  };
}
