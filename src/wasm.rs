//! WebAssembly bindings (wasm-bindgen). Deliberately thin: every computation is the shared
//! Rust code; this layer converts JS values, chooses the device, and turns every failure into
//! a rejected Promise with a JS `Error`. The idiomatic JS API lives in `pkg-config/grafiqs.js`.

use std::cell::RefCell;
use std::rc::Rc;

use burn::tensor::Device;
use js_sys::{Array, Float32Array, Object, Promise, Reflect};
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::future_to_promise;

use crate::assess::{Assessment, Assessor};
use crate::detect::{Detector, Tracker};
use crate::error::Error;
use crate::model::Model;
use crate::preprocess::RgbImage;
use crate::scorer::{BackendKind, Scored, Scorer};
use std::future::Future;

/// Largest batch accepted in one call (bounds memory on small devices).
pub const MAX_BATCH: usize = 64;

#[wasm_bindgen(start)]
fn start() {
    console_error_panic_hook::set_once();
}

fn to_js(v: &serde_json::Value) -> Result<JsValue, JsValue> {
    use serde::Serialize as _;
    v.serialize(&serde_wasm_bindgen::Serializer::json_compatible())
        .map_err(js_err)
}

fn js_err(e: impl std::fmt::Display) -> JsValue {
    js_sys::Error::new(&e.to_string()).into()
}

thread_local! {
    /// The WebGPU device: initialised once per page (Burn allows one wgpu runtime).
    static WEBGPU: RefCell<Option<Result<Device, String>>> = const { RefCell::new(None) };
}

fn has_navigator_gpu() -> bool {
    let global = js_sys::global();
    Reflect::get(&global, &"navigator".into())
        .ok()
        .filter(|n| !n.is_undefined())
        .and_then(|n| Reflect::get(&n, &"gpu".into()).ok())
        .is_some_and(|g| !g.is_undefined() && !g.is_null())
}

/// Initialises WebGPU for scoring (idempotent). Resolves when a device is ready; rejects with
/// the reason when WebGPU is missing, no adapter is granted, or device creation fails.
#[wasm_bindgen(js_name = initWebGpu)]
pub fn init_webgpu() -> Promise {
    future_to_promise(async {
        if let Some(r) = WEBGPU.with(|c| c.borrow().clone()) {
            return r.map(|_| JsValue::TRUE).map_err(js_err);
        }
        let r = if !has_navigator_gpu() {
            Err("WebGPU is not available (navigator.gpu is missing)".to_string())
        } else {
            Device::wgpu_options()
                .init_async()
                .await
                .map_err(|e| format!("WebGPU initialisation failed: {e:?}"))
        };
        WEBGPU.with(|c| *c.borrow_mut() = Some(r.clone()));
        r.map(|_| JsValue::TRUE).map_err(js_err)
    })
}

fn webgpu_device() -> Result<Device, String> {
    WEBGPU
        .with(|c| c.borrow().clone())
        .unwrap_or_else(|| Err("call initWebGpu() first".into()))
}

/// A computing object (scorer or assessor) on one backend, with what is needed to rebuild it
/// on the CPU when the GPU fails.
struct Slot<T> {
    worker: Rc<T>,
    backend: &'static str,
    fallback: Option<String>,
    cpu: Box<dyn Fn() -> Result<T, JsValue>>,
}

type Shared<T> = Rc<RefCell<Option<Slot<T>>>>;

fn live<T, R>(state: &Shared<T>, what: &str, f: impl FnOnce(&Slot<T>) -> R) -> Result<R, JsValue> {
    let st = state.borrow();
    let s = st
        .as_ref()
        .ok_or_else(|| js_err(format!("the {what} was disposed")))?;
    Ok(f(s))
}

/// Runs `op` on the slot's worker; if it fails with a backend (device) error on WebGPU, the
/// slot moves to the CPU for good and `op` runs again there. Returns the result with the
/// backend that produced it and the fallback reason, if any.
async fn with_fallback<T, R, Fut>(
    state: &Shared<T>,
    what: &str,
    op: impl Fn(Rc<T>) -> Fut,
) -> Result<(R, &'static str, Option<String>), JsValue>
where
    Fut: Future<Output = Result<R, Error>>,
{
    let (worker, backend) = live(state, what, |s| (s.worker.clone(), s.backend))?;
    let result = match op(worker).await {
        Err(Error::Backend(why)) if backend == "webgpu" => {
            let cpu = {
                let mut st = state.borrow_mut();
                let s = st
                    .as_mut()
                    .ok_or_else(|| js_err(format!("the {what} was disposed")))?;
                if s.backend == "webgpu" {
                    s.worker = Rc::new((s.cpu)()?);
                    s.backend = "cpu";
                    s.fallback = Some(format!("WebGPU failed, switched to CPU: {why}"));
                }
                s.worker.clone()
            };
            op(cpu).await
        }
        other => other,
    };
    let r = result.map_err(js_err)?;
    let st = state.borrow();
    let (b, f) = st
        .as_ref()
        .map_or(("disposed", None), |s| (s.backend, s.fallback.clone()));
    Ok((r, b, f))
}

fn backend_of<T>(state: &Shared<T>) -> String {
    state
        .borrow()
        .as_ref()
        .map_or("disposed", |s| s.backend)
        .to_string()
}

fn dispose_slot<T>(state: &Shared<T>, device: impl Fn(&T) -> Device) {
    if let Some(s) = state.borrow_mut().take() {
        let d = device(&s.worker);
        drop(s);
        d.memory_cleanup();
    }
}

fn device_for(backend: &str) -> Result<(Device, BackendKind, &'static str), JsValue> {
    match backend {
        "webgpu" => Ok((
            webgpu_device().map_err(js_err)?,
            BackendKind::Wgpu,
            "webgpu",
        )),
        "cpu" => Ok((Device::flex(), BackendKind::Cpu, "cpu")),
        other => Err(js_err(format!(
            "unknown backend `{other}` (expected \"webgpu\" or \"cpu\")"
        ))),
    }
}

/// A scorer bound to one model and one backend (`"webgpu"` or `"cpu"`).
#[wasm_bindgen]
pub struct WasmScorer {
    state: Shared<Scorer>,
    model: Model,
}

fn scored_to_js(
    r: &Scored,
    model: &str,
    backend: &str,
    fallback: Option<&str>,
    embedding: bool,
) -> JsValue {
    let o = Object::new();
    let s = Object::new();
    let set = |o: &Object, k: &str, v: JsValue| {
        let _ = Reflect::set(o, &k.into(), &v);
    };
    set(&s, "image", r.scores.image.into());
    set(&s, "block1", r.scores.block1.into());
    set(&s, "block2", r.scores.block2.into());
    set(&s, "block3", r.scores.block3.into());
    set(&s, "block4", r.scores.block4.into());
    set(&o, "scores", s.into());
    set(&o, "quality", r.quality.into());
    set(&o, "calibrated", r.calibrated.into());
    set(&o, "loss", r.loss.into());
    set(&o, "model", model.into());
    set(&o, "backend", backend.into());
    if let Some(f) = fallback {
        set(&o, "fallbackReason", f.into());
    }
    if embedding {
        set(&o, "embedding", Float32Array::from(&r.embedding[..]).into());
    }
    o.into()
}

#[wasm_bindgen]
impl WasmScorer {
    /// Loads a `.grafiqs` model from its bytes onto `backend` (`"webgpu"` after a successful
    /// `initWebGpu()`, or `"cpu"`).
    #[wasm_bindgen(constructor)]
    pub fn new(model: &[u8], backend: &str) -> Result<WasmScorer, JsValue> {
        let model = Model::from_bytes(model).map_err(js_err)?;
        let (device, kind, backend) = device_for(backend)?;
        let scorer = Scorer::on_device(model.clone(), &device, kind);
        let for_cpu = model.clone();
        Ok(WasmScorer {
            state: Rc::new(RefCell::new(Some(Slot {
                worker: Rc::new(scorer),
                backend,
                fallback: None,
                cpu: Box::new(move || Ok(Scorer::cpu(for_cpu.clone()))),
            }))),
            model,
        })
    }

    /// `"webgpu"` or `"cpu"` (after a lost GPU device: `"cpu"`); `"disposed"` after dispose().
    #[wasm_bindgen(getter)]
    pub fn backend(&self) -> String {
        backend_of(&self.state)
    }

    /// Model metadata: architecture, parameters, BatchNorm layers, embedding size, stages,
    /// provenance, calibration.
    pub fn info(&self) -> Result<JsValue, JsValue> {
        let (cal, calibrated) = live(&self.state, "scorer", |s| {
            let (c, k) = s.worker.calibration();
            (c.clone(), k)
        })?;
        let m = &self.model;
        to_js(&serde_json::json!({
            "name": m.name(),
            "architecture": m.meta.architecture,
            "parameters": m.info().parameter_count,
            "batchnormLayers": m.info().scored_batchnorms.len(),
            "embeddingSize": m.info().embedding_size,
            "inputSize": m.meta.input_size,
            "stages": m.meta.stages,
            "provenance": m.meta.provenance,
            "calibration": cal,
            "calibrated": calibrated,
        }))
    }

    /// Scores faces given as concatenated RGBA bytes; `sizes` holds `[w0, h0, w1, h1, …]`.
    /// Faces of any size are resized to 112×112 as the CLI does. Resolves to an array of
    /// results `{ scores, quality, calibrated, loss, backend, embedding? }`.
    #[wasm_bindgen(js_name = scoreRgba)]
    pub fn score_rgba(&self, rgba: Vec<u8>, sizes: Vec<u32>, embedding: bool) -> Promise {
        let faces = (|| -> Result<Vec<RgbImage>, Error> {
            if sizes.is_empty() || !sizes.len().is_multiple_of(2) {
                return Err(Error::Input(
                    "sizes must hold a width and a height per image".into(),
                ));
            }
            let n = sizes.len() / 2;
            if n > MAX_BATCH {
                return Err(Error::Input(format!(
                    "a batch holds at most {MAX_BATCH} images, got {n}"
                )));
            }
            let mut faces = Vec::with_capacity(n);
            let mut off = 0usize;
            for k in 0..n {
                let (w, h) = (sizes[2 * k] as usize, sizes[2 * k + 1] as usize);
                let len = w.checked_mul(h).and_then(|p| p.checked_mul(4));
                let end = len
                    .and_then(|l| off.checked_add(l))
                    .filter(|&e| e <= rgba.len());
                let Some(end) = end else {
                    return Err(Error::Input(format!(
                        "image {k} ({w}x{h}) needs {} RGBA bytes, only {} remain",
                        len.map_or("too many".into(), |l| l.to_string()),
                        rgba.len() - off
                    )));
                };
                faces.push(
                    RgbImage::from_rgba8(w, h, &rgba[off..end])
                        .map_err(|e| Error::Input(format!("image {k}: {e}")))?,
                );
                off = end;
            }
            if off != rgba.len() {
                return Err(Error::Input(format!(
                    "{} RGBA bytes given, the sizes account for {off}",
                    rgba.len()
                )));
            }
            Ok(faces)
        })();
        self.run(faces, embedding)
    }

    /// Scores one encoded image file (JPEG, PNG, BMP, WebP), decoded exactly like the native
    /// CLI (baseline JPEG bit-exact with libjpeg-turbo).
    #[wasm_bindgen(js_name = scoreEncoded)]
    pub fn score_encoded(&self, bytes: &[u8], embedding: bool) -> Promise {
        self.run(RgbImage::decode(bytes).map(|f| vec![f]), embedding)
    }

    fn run(&self, faces: Result<Vec<RgbImage>, Error>, embedding: bool) -> Promise {
        let state = self.state.clone();
        let model = self.model.name().to_string();
        future_to_promise(async move {
            let faces = Rc::new(faces.map_err(js_err)?);
            let (results, backend, fallback) = with_fallback(&state, "scorer", |s: Rc<Scorer>| {
                let faces = faces.clone();
                async move { s.score_async(&faces).await }
            })
            .await?;
            let out = Array::new();
            for r in &results {
                out.push(&scored_to_js(
                    r,
                    &model,
                    backend,
                    fallback.as_deref(),
                    embedding,
                ));
            }
            Ok(out.into())
        })
    }

    /// Releases the model and its device memory. Later calls reject.
    pub fn dispose(&self) {
        dispose_slot(&self.state, |s: &Scorer| s.device().clone());
    }

    /// Bytes of device memory held by the backend's pool, when it reports it
    /// (`{ inUse, reserved }`), else `null`.
    #[wasm_bindgen(js_name = memoryUsage)]
    pub fn memory_usage(&self) -> JsValue {
        let usage = live(&self.state, "scorer", |s| {
            s.worker.device().memory_pool_usage()
        })
        .ok()
        .flatten();
        match usage {
            Some(u) => {
                let o = Object::new();
                let _ = Reflect::set(&o, &"inUse".into(), &(u.bytes_in_use as f64).into());
                let _ = Reflect::set(&o, &"reserved".into(), &(u.bytes_reserved as f64).into());
                o.into()
            }
            None => JsValue::NULL,
        }
    }
}

fn build_assessor(
    detector: &[u8],
    model: Option<&Model>,
    backend: &str,
) -> Result<(Assessor, &'static str), JsValue> {
    let (device, kind, name) = device_for(backend)?;
    let det = Detector::on_device(detector, &device, kind).map_err(js_err)?;
    let scorer = model.map(|m| Scorer::on_device(m.clone(), &device, kind));
    Ok((Assessor::new(det, scorer), name))
}

fn assessor_slot(
    detector: Rc<Vec<u8>>,
    model: Option<Model>,
    backend: &str,
) -> Result<Slot<Assessor>, JsValue> {
    let (assessor, backend) = build_assessor(&detector, model.as_ref(), backend)?;
    Ok(Slot {
        worker: Rc::new(assessor),
        backend,
        fallback: None,
        cpu: Box::new(move || Ok(build_assessor(&detector, model.as_ref(), "cpu")?.0)),
    })
}

/// Capture guidance on one backend: face detection, alignment, guidance measures and advice,
/// plus GraFIQs quality once a recognition model is set.
#[wasm_bindgen]
pub struct WasmAssessor {
    state: Shared<Assessor>,
    detector: Rc<Vec<u8>>,
    /// Name of the recognition model in use, if any.
    model_name: RefCell<Option<String>>,
    /// The faces followed by `assessRgbaTracked`, and a count of `resetTrack`/`setTracking`
    /// calls (a frame in flight across one does not write its state back).
    tracker: Rc<RefCell<(Tracker, u64)>>,
}

fn assessment_to_js(
    a: &Assessment,
    model: Option<&str>,
    backend: &str,
    fallback: Option<&str>,
    crops: bool,
) -> Result<JsValue, JsValue> {
    let mut v = serde_json::to_value(a).map_err(js_err)?;
    let advice = |list: &[crate::guidance::Advice]| {
        serde_json::Value::Array(
            list.iter()
                .map(|a| serde_json::json!({ "code": a.code(), "message": a.message() }))
                .collect(),
        )
    };
    v["advice"] = advice(&a.advice);
    v["ready"] = serde_json::json!(a.ready());
    v["backend"] = serde_json::json!(backend);
    if let Some(m) = model {
        v["model"] = serde_json::json!(m);
    }
    if let Some(f) = fallback {
        v["fallbackReason"] = serde_json::json!(f);
    }
    for (i, f) in a.faces.iter().enumerate() {
        v["faces"][i]["advice"] = advice(&f.advice);
    }
    let out = to_js(&v)?;
    if crops {
        let faces = Reflect::get(&out, &"faces".into())?;
        for (i, f) in a.faces.iter().enumerate() {
            let rgba: Vec<u8> = f
                .aligned
                .data
                .chunks_exact(3)
                .flat_map(|p| {
                    [
                        p[0].round().clamp(0.0, 255.0) as u8,
                        p[1].round().clamp(0.0, 255.0) as u8,
                        p[2].round().clamp(0.0, 255.0) as u8,
                        255,
                    ]
                })
                .collect();
            let face = Reflect::get(&faces, &(i as u32).into())?;
            Reflect::set(
                &face,
                &"aligned".into(),
                &js_sys::Uint8Array::from(&rgba[..]).into(),
            )?;
        }
    }
    Ok(out)
}

#[wasm_bindgen]
impl WasmAssessor {
    /// A detector (the bytes of `mtcnn.grafiqs`) on `backend` (`"webgpu"` after
    /// `initWebGpu()`, or `"cpu"`).
    #[wasm_bindgen(constructor)]
    pub fn new(detector: &[u8], backend: &str) -> Result<WasmAssessor, JsValue> {
        let detector = Rc::new(detector.to_vec());
        let slot = assessor_slot(detector.clone(), None, backend)?;
        Ok(WasmAssessor {
            state: Rc::new(RefCell::new(Some(slot))),
            detector,
            model_name: RefCell::new(None),
            tracker: Rc::new(RefCell::new((Tracker::new(), 0))),
        })
    }

    /// Loads (or, with `undefined`, removes) the face-recognition model used for quality.
    #[wasm_bindgen(js_name = setModel)]
    pub fn set_model(&self, model: Option<Vec<u8>>) -> Result<(), JsValue> {
        let model = model
            .map(|b| Model::from_bytes(&b))
            .transpose()
            .map_err(js_err)?;
        let backend = live(&self.state, "assessor", |s| s.backend)?;
        let name = model.as_ref().map(|m| m.name().to_string());
        let slot = assessor_slot(self.detector.clone(), model, backend)?;
        *self.state.borrow_mut() = Some(slot);
        *self.model_name.borrow_mut() = name;
        Ok(())
    }

    /// `"webgpu"`, `"cpu"` or `"disposed"`.
    #[wasm_bindgen(getter)]
    pub fn backend(&self) -> String {
        backend_of(&self.state)
    }

    /// Whether a recognition model is loaded.
    #[wasm_bindgen(getter, js_name = hasModel)]
    pub fn has_model(&self) -> bool {
        self.model_name.borrow().is_some()
    }

    /// Name of the recognition model used for quality (`null` without one).
    #[wasm_bindgen(getter, js_name = modelName)]
    pub fn model_name(&self) -> Option<String> {
        self.model_name.borrow().clone()
    }

    /// Assesses one RGBA frame. Resolves to `{ width, height, ready, advice: [{code, message}],
    /// faces: [{ box, confidence, landmarks, measures, advice, quality?, scores?, aligned? }],
    /// backend }` (`aligned`: 112×112 RGBA bytes when `crops`).
    #[wasm_bindgen(js_name = assessRgba)]
    pub fn assess_rgba(
        &self,
        rgba: Vec<u8>,
        width: u32,
        height: u32,
        score: bool,
        crops: bool,
    ) -> Promise {
        let state = self.state.clone();
        let model = self.model_name.borrow().clone().filter(|_| score);
        future_to_promise(async move {
            let frame = Rc::new(
                RgbImage::from_rgba8(width as usize, height as usize, &rgba).map_err(js_err)?,
            );
            let (a, backend, fallback) = with_fallback(&state, "assessor", |s: Rc<Assessor>| {
                let frame = frame.clone();
                async move { s.assess_async(&frame, score).await }
            })
            .await?;
            assessment_to_js(&a, model.as_deref(), backend, fallback.as_deref(), crops)
        })
    }

    /// Assesses the next RGBA frame of a video like `assessRgba`, following the faces of the
    /// previous frame (R-Net and O-Net on predicted boxes) instead of searching the whole
    /// image pyramid, except on every `redetectEvery`-th frame and when a face is lost. The
    /// result has `tracked: true` when the frame was tracked.
    #[wasm_bindgen(js_name = assessRgbaTracked)]
    pub fn assess_rgba_tracked(
        &self,
        rgba: Vec<u8>,
        width: u32,
        height: u32,
        score: bool,
        crops: bool,
    ) -> Promise {
        let state = self.state.clone();
        let shared = self.tracker.clone();
        let model = self.model_name.borrow().clone().filter(|_| score);
        future_to_promise(async move {
            let frame = Rc::new(
                RgbImage::from_rgba8(width as usize, height as usize, &rgba).map_err(js_err)?,
            );
            let (start, epoch) = shared.borrow().clone();
            let ((a, tracker), backend, fallback) =
                with_fallback(&state, "assessor", |s: Rc<Assessor>| {
                    let frame = frame.clone();
                    let mut tracker = start.clone();
                    async move {
                        let a = s.assess_tracked_async(&frame, score, &mut tracker).await?;
                        Ok((a, tracker))
                    }
                })
                .await?;
            {
                let mut cur = shared.borrow_mut();
                if cur.1 == epoch {
                    cur.0 = tracker;
                }
            }
            assessment_to_js(&a, model.as_deref(), backend, fallback.as_deref(), crops)
        })
    }

    /// Forgets the followed faces: the next tracked frame runs the full detection.
    #[wasm_bindgen(js_name = resetTrack)]
    pub fn reset_track(&self) {
        let mut t = self.tracker.borrow_mut();
        t.0.reset();
        t.1 += 1;
    }

    /// Options of tracked assessment: the smallest face (px) searched by full detections and
    /// the number of frames between them. Resets the track.
    #[wasm_bindgen(js_name = setTracking)]
    pub fn set_tracking(&self, min_face_size: f64, redetect_every: u32) {
        let mut t = self.tracker.borrow_mut();
        t.0 = Tracker::new()
            .with_min_face_size(min_face_size)
            .with_redetect_every(redetect_every);
        t.1 += 1;
    }

    /// Frames assessed with `assessRgbaTracked` so far: `{ detected, tracked }`.
    #[wasm_bindgen(js_name = trackStats)]
    pub fn track_stats(&self) -> Result<JsValue, JsValue> {
        let s = self.tracker.borrow().0.stats();
        to_js(&serde_json::json!({ "detected": s.detected, "tracked": s.tracked }))
    }

    /// Releases the detector, the model and their device memory.
    pub fn dispose(&self) {
        dispose_slot(&self.state, |a: &Assessor| a.detector().device().clone());
    }
}
