//! WebAssembly bindings (wasm-bindgen). Deliberately thin: every computation is the shared
//! Rust code; this layer converts JS values, places the work on a device ([`Placed`]), and
//! turns every failure into a rejected Promise with a JS `Error` carrying the stable
//! [`Error::code`]. Results are the [`crate::report`] types, serialised with
//! `serde-wasm-bindgen`. The idiomatic JS API lives in `pkg-config/grafiqs.js`.

use std::cell::{Cell, RefCell};
use std::future::Future;
use std::rc::Rc;

use burn::tensor::Device;
use js_sys::{Float32Array, Promise, Reflect};
use serde::Serialize;
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::future_to_promise;

use crate::capture::assess::Assessor;
use crate::capture::detect::{Detector, TrackMode, Tracker};
use crate::device::BackendKind;
use crate::error::{Error, ResultExt};
use crate::image::RgbImage;
use crate::model::Model;
use crate::report::{AssessmentReport, ModelInfo, ScoreReport};
use crate::scorer::Scorer;

/// Largest batch accepted in one call (bounds memory on small devices).
pub const MAX_BATCH: usize = 64;

unsafe extern "C" {
    /// The static constructors of the whole module (some dependencies register items with
    /// `inventory`), synthesised by the linker.
    fn __wasm_call_ctors();
}

/// Runs once, right after instantiation.
///
/// Calling the constructors here, explicitly, matters for speed: a module that never calls
/// them is linked as a "command", and the linker then re-runs every constructor at the top of
/// *every* export, down to the allocator and the JS-value table helpers that each field of a
/// result crosses. In Chromium that was about a tenth of a face's scoring time.
#[wasm_bindgen(start)]
fn start() {
    // SAFETY: the linker-synthesised constructor function, called once, before any other
    // export (wasm-bindgen calls the start function at instantiation).
    unsafe { __wasm_call_ctors() };
    console_error_panic_hook::set_once();
}

/// The WebAssembly features this build's kernels were compiled with: `"simd128"`, or
/// `"simd128 relaxed-simd"` for the package's second build.
#[wasm_bindgen(js_name = wasmFeatures)]
pub fn wasm_features() -> String {
    let mut features = String::from("simd128");
    if cfg!(target_feature = "relaxed-simd") {
        features.push_str(" relaxed-simd");
    }
    features
}

/// A JS `Error` with the message and `code` of `e`.
fn js_err(e: &Error) -> JsValue {
    let err = js_sys::Error::new(&e.to_string());
    let _ = Reflect::set(&err, &"code".into(), &e.code().into());
    err.into()
}

/// Serialises a result: plain objects (not `Map`s), `null` for missing values, bytes as a
/// `Uint8Array` (JSON-compatible otherwise).
fn to_js(v: &impl Serialize) -> Result<JsValue, JsValue> {
    let serializer = serde_wasm_bindgen::Serializer::new()
        .serialize_missing_as_null(true)
        .serialize_maps_as_objects(true);
    v.serialize(&serializer)
        .map_err(|e| js_err(&Error::Internal(format!("result conversion: {e}"))))
}

/// Serialises a result through one JSON string: a single crossing into JS. For an assessment
/// (dozens of nested fields) building the object field by field through `serde-wasm-bindgen`
/// cost ~55 ms per frame on the CPU path in Chromium (`make bench-browser`, tracked guidance
/// 76.5 → 19.5 ms/frame). Bytes must not go this way (see [`attach_crops`]).
fn to_js_json(v: &impl Serialize) -> Result<JsValue, Error> {
    let text =
        serde_json::to_string(v).map_err(|e| Error::Internal(format!("result conversion: {e}")))?;
    js_sys::JSON::parse(&text).map_err(|_| Error::Internal("result conversion: JSON.parse".into()))
}

/// Puts each face's aligned crop (112×112 RGBA bytes) on the faces of a parsed assessment.
fn attach_crops(out: &JsValue, a: &crate::capture::assess::Assessment) -> Result<(), Error> {
    let fail = |_| Error::Internal("result conversion: faces".into());
    let faces = Reflect::get(out, &"faces".into()).map_err(fail)?;
    for (i, f) in a.faces.iter().enumerate() {
        let face = Reflect::get(&faces, &(i as u32).into()).map_err(fail)?;
        let bytes = js_sys::Uint8Array::from(&f.aligned.to_rgba8()[..]);
        Reflect::set(&face, &"aligned".into(), &bytes).map_err(fail)?;
    }
    Ok(())
}

/// The backend a binding object computes on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Backend {
    WebGpu,
    Cpu,
}

impl Backend {
    fn parse(name: &str) -> Result<Self, Error> {
        match name {
            "webgpu" => Ok(Backend::WebGpu),
            "cpu" => Ok(Backend::Cpu),
            other => Err(Error::Input(format!(
                "unknown backend `{other}` (expected \"webgpu\" or \"cpu\")"
            ))),
        }
    }

    /// The name JS sees.
    fn name(self) -> &'static str {
        match self {
            Backend::WebGpu => "webgpu",
            Backend::Cpu => "cpu",
        }
    }

    fn device(self) -> Result<(Device, BackendKind), Error> {
        match self {
            Backend::WebGpu => Ok((webgpu_device()?, BackendKind::Wgpu)),
            Backend::Cpu => Ok((Device::flex(), BackendKind::Cpu)),
        }
    }
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
            return r
                .map(|_| JsValue::TRUE)
                .map_err(|e| js_err(&Error::Backend(e)));
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
        r.map(|_| JsValue::TRUE)
            .map_err(|e| js_err(&Error::Backend(e)))
    })
}

fn webgpu_device() -> Result<Device, Error> {
    WEBGPU
        .with(|c| c.borrow().clone())
        .unwrap_or_else(|| Err("call initWebGpu() first".into()))
        .map_err(Error::Backend)
}

/// A value computing on one backend, with its lifetime: disposed, or moved to the CPU for good
/// when the GPU device is lost ([`Error::is_device_lost`]; no other error moves it).
struct Placed<T> {
    what: &'static str,
    value: RefCell<Option<Rc<T>>>,
    backend: Cell<Backend>,
    fallback: RefCell<Option<String>>,
}

impl<T> Placed<T> {
    fn new(what: &'static str, value: T, backend: Backend) -> Rc<Self> {
        Rc::new(Self {
            what,
            value: RefCell::new(Some(Rc::new(value))),
            backend: Cell::new(backend),
            fallback: RefCell::new(None),
        })
    }

    fn disposed(&self) -> Error {
        Error::Input(format!("the {} was disposed", self.what))
    }

    /// The value (shared with calls in flight) and its backend.
    fn get(&self) -> Result<(Rc<T>, Backend), Error> {
        let v = self.value.borrow().clone().ok_or_else(|| self.disposed())?;
        Ok((v, self.backend.get()))
    }

    /// Replaces the value (still on the same backend).
    fn replace(&self, value: T) -> Result<(), Error> {
        let mut slot = self.value.borrow_mut();
        if slot.is_none() {
            return Err(self.disposed());
        }
        *slot = Some(Rc::new(value));
        Ok(())
    }

    /// `"webgpu"`, `"cpu"` or `"disposed"`.
    fn backend_name(&self) -> &'static str {
        if self.value.borrow().is_some() {
            self.backend.get().name()
        } else {
            "disposed"
        }
    }

    /// Runs `op`; when it fails because the WebGPU device was lost, rebuilds the value on the
    /// CPU with `cpu` (once for good) and runs `op` again there. Returns the result with the
    /// backend that produced it.
    async fn run<R, Fut>(
        &self,
        cpu: impl FnOnce() -> Result<T, Error>,
        op: impl Fn(Rc<T>) -> Fut,
    ) -> Result<(R, Backend), Error>
    where
        Fut: Future<Output = Result<R, Error>>,
    {
        let (value, backend) = self.get()?;
        match op(value).await {
            Err(e) if backend == Backend::WebGpu && e.is_device_lost() => {
                self.move_to_cpu(cpu, &e)?;
                let (value, backend) = self.get()?;
                Ok((op(value).await?, backend))
            }
            other => Ok((other?, backend)),
        }
    }

    /// Rebuilds the value on the CPU with `cpu` because of `why` (once: later calls, and calls
    /// that were in flight on the lost device, find it there already).
    fn move_to_cpu(
        &self,
        cpu: impl FnOnce() -> Result<T, Error>,
        why: &Error,
    ) -> Result<(), Error> {
        if self.backend.get() == Backend::WebGpu {
            self.replace(cpu()?)?;
            self.backend.set(Backend::Cpu);
            *self.fallback.borrow_mut() = Some(format!("WebGPU failed, switched to CPU: {why}"));
        }
        Ok(())
    }

    fn dispose(&self, device: impl Fn(&T) -> Device) {
        if let Some(v) = self.value.borrow_mut().take() {
            let d = device(&v);
            drop(v);
            d.memory_cleanup();
        }
    }
}

/// What every result carries besides its content.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Placement<'a, T: Serialize> {
    #[serde(flatten)]
    result: T,
    backend: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    fallback_reason: Option<&'a str>,
}

/// A score with the embedding as a `Float32Array`.
#[derive(Serialize)]
struct WebScore<'a> {
    #[serde(flatten)]
    report: ScoreReport<'a>,
    #[serde(
        with = "serde_wasm_bindgen::preserve",
        skip_serializing_if = "JsValue::is_undefined"
    )]
    embedding: JsValue,
}

/// A scorer bound to one model and one backend (`"webgpu"` or `"cpu"`).
#[wasm_bindgen]
pub struct WasmScorer {
    placed: Rc<Placed<Scorer>>,
    /// The model; its weights are shared (reference-counted) with the scorer.
    model: Model,
}

#[wasm_bindgen]
impl WasmScorer {
    /// Loads a `.grafiqs` model from its bytes onto `backend` (`"webgpu"` after a successful
    /// `initWebGpu()`, or `"cpu"`).
    #[wasm_bindgen(constructor)]
    pub fn new(model: &[u8], backend: &str) -> Result<WasmScorer, JsValue> {
        let build = || -> Result<WasmScorer, Error> {
            let model = Model::from_bytes(model)?;
            let backend = Backend::parse(backend)?;
            let (device, kind) = backend.device()?;
            let scorer = Scorer::on_device(model.clone(), &device, kind)?;
            Ok(WasmScorer {
                placed: Placed::new("scorer", scorer, backend),
                model,
            })
        };
        build().map_err(|e| js_err(&e))
    }

    /// `"webgpu"` or `"cpu"` (after a lost GPU device: `"cpu"`); `"disposed"` after dispose().
    #[wasm_bindgen(getter)]
    pub fn backend(&self) -> String {
        self.placed.backend_name().to_string()
    }

    /// Model metadata ([`ModelInfo`]).
    pub fn info(&self) -> Result<JsValue, JsValue> {
        let (scorer, _) = self.placed.get().map_err(|e| js_err(&e))?;
        let (cal, calibrated) = scorer.calibration();
        to_js(&ModelInfo::new(&self.model, cal, calibrated))
    }

    /// Scores faces given as concatenated RGBA bytes; `sizes` holds `[w0, h0, w1, h1, …]`.
    /// Faces of any size are resized to the model's input as the CLI does. Resolves to an
    /// array of results `{ scores, quality, calibrated, loss, model, backend, embedding? }`.
    #[wasm_bindgen(js_name = scoreRgba)]
    pub fn score_rgba(&self, rgba: Vec<u8>, sizes: Vec<u32>, embedding: bool) -> Promise {
        self.run(split_rgba(&rgba, &sizes), embedding)
    }

    /// Scores one encoded JPEG or PNG (baseline JPEG bit-exact with libjpeg-turbo, as the
    /// native CLI decodes it; other formats are not compiled into the browser build).
    #[wasm_bindgen(js_name = scoreEncoded)]
    pub fn score_encoded(&self, bytes: &[u8], embedding: bool) -> Promise {
        self.run(RgbImage::decode(bytes).map(|f| vec![f]), embedding)
    }

    fn run(&self, faces: Result<Vec<RgbImage>, Error>, embedding: bool) -> Promise {
        let placed = self.placed.clone();
        let model = self.model.clone();
        future_to_promise(async move {
            let work = async {
                let faces = Rc::new(faces?);
                let cpu = || Scorer::cpu(model.clone());
                let (results, backend) = placed
                    .run(cpu, |s: Rc<Scorer>| {
                        let faces = faces.clone();
                        async move { s.score_async(&faces).await }
                    })
                    .await?;
                let fallback = placed.fallback.borrow().clone();
                let out: Vec<_> = results
                    .iter()
                    .map(|r| Placement {
                        result: WebScore {
                            report: ScoreReport::new(r, model.name(), false),
                            embedding: if embedding {
                                Float32Array::from(&r.embedding[..]).into()
                            } else {
                                JsValue::UNDEFINED
                            },
                        },
                        backend: backend.name(),
                        fallback_reason: fallback.as_deref(),
                    })
                    .collect();
                Ok::<_, Error>(out.iter().map(to_js).collect::<Result<Vec<_>, _>>())
            };
            match work.await {
                Ok(values) => Ok(values?.into_iter().collect::<js_sys::Array>().into()),
                Err(e) => Err(js_err(&e)),
            }
        })
    }

    /// Releases the model and its device memory. Later calls reject.
    pub fn dispose(&self) {
        self.placed.dispose(|s: &Scorer| s.device().clone());
    }

    /// Bytes of device memory held by the backend's pool, when it reports it
    /// (`{ inUse, reserved }`), else `null`.
    #[wasm_bindgen(js_name = memoryUsage)]
    pub fn memory_usage(&self) -> JsValue {
        #[derive(Serialize)]
        #[serde(rename_all = "camelCase")]
        struct Usage {
            in_use: f64,
            reserved: f64,
        }
        self.placed
            .get()
            .ok()
            .and_then(|(s, _)| s.device().memory_pool_usage())
            .and_then(|u| {
                to_js(&Usage {
                    in_use: u.bytes_in_use as f64,
                    reserved: u.bytes_reserved as f64,
                })
                .ok()
            })
            .unwrap_or(JsValue::NULL)
    }
}

/// Splits concatenated RGBA bytes into images of the given `[w, h, …]` sizes.
fn split_rgba(rgba: &[u8], sizes: &[u32]) -> Result<Vec<RgbImage>, Error> {
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
            RgbImage::from_rgba8(w, h, &rgba[off..end]).with_context(|| format!("image {k}"))?,
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
}

/// Capture guidance on one backend: face detection, alignment, guidance measures and advice,
/// plus GraFIQs quality once a recognition model is set. The detector is loaded once;
/// `setModel` only swaps the scorer.
#[wasm_bindgen]
pub struct WasmAssessor {
    /// The detector (never rebuilt by `setModel`).
    assessor: Rc<Placed<Assessor>>,
    /// The recognition model's scorer, on the assessor's backend.
    scorer: RefCell<Option<Rc<Placed<Scorer>>>>,
    detector: Rc<[u8]>,
    model: RefCell<Option<Model>>,
    /// The faces followed by `assessRgbaTracked`, and a count of `resetTrack`/`setTracking`
    /// calls (a frame in flight across one does not write its state back).
    tracker: Rc<RefCell<(Tracker, u64)>>,
}

fn detector_on(bytes: &[u8], backend: Backend) -> Result<Assessor, Error> {
    let (device, kind) = backend.device()?;
    Ok(Assessor::new(
        Detector::on_device(bytes, &device, kind)?,
        None,
    ))
}

#[wasm_bindgen]
impl WasmAssessor {
    /// A detector (the bytes of `mtcnn.grafiqs`) on `backend` (`"webgpu"` after
    /// `initWebGpu()`, or `"cpu"`).
    #[wasm_bindgen(constructor)]
    pub fn new(detector: &[u8], backend: &str) -> Result<WasmAssessor, JsValue> {
        let build = || -> Result<WasmAssessor, Error> {
            let backend = Backend::parse(backend)?;
            Ok(WasmAssessor {
                assessor: Placed::new("assessor", detector_on(detector, backend)?, backend),
                scorer: RefCell::new(None),
                detector: detector.into(),
                model: RefCell::new(None),
                tracker: Rc::new(RefCell::new((Tracker::new(), 0))),
            })
        };
        build().map_err(|e| js_err(&e))
    }

    /// Loads (or, with `undefined`, removes) the face-recognition model used for quality, on
    /// the assessor's current backend. The detector stays as it is.
    #[wasm_bindgen(js_name = setModel)]
    pub fn set_model(&self, model: Option<Vec<u8>>) -> Result<(), JsValue> {
        let build = || -> Result<(), Error> {
            let (_, backend) = self.assessor.get()?;
            let placed = match model {
                Some(bytes) => {
                    let model = Model::from_bytes(&bytes)?;
                    let (device, kind) = backend.device()?;
                    let scorer = Scorer::on_device(model.clone(), &device, kind)?;
                    *self.model.borrow_mut() = Some(model);
                    Some(Placed::new("assessor", scorer, backend))
                }
                None => {
                    *self.model.borrow_mut() = None;
                    None
                }
            };
            if let Some(old) = self.scorer.replace(placed) {
                old.dispose(|s: &Scorer| s.device().clone());
            }
            Ok(())
        };
        build().map_err(|e| js_err(&e))
    }

    /// `"webgpu"`, `"cpu"` or `"disposed"`.
    #[wasm_bindgen(getter)]
    pub fn backend(&self) -> String {
        self.assessor.backend_name().to_string()
    }

    /// Whether a recognition model is loaded.
    #[wasm_bindgen(getter, js_name = hasModel)]
    pub fn has_model(&self) -> bool {
        self.model.borrow().is_some()
    }

    /// Name of the recognition model used for quality (`null` without one).
    #[wasm_bindgen(getter, js_name = modelName)]
    pub fn model_name(&self) -> Option<String> {
        self.model.borrow().as_ref().map(|m| m.name().to_string())
    }

    /// Assesses one RGBA frame. Resolves to an [`AssessmentReport`] with `backend` (and
    /// `fallbackReason` after a lost GPU): `{ width, height, ready, tracked, advice: [{code,
    /// message}], faces: [{ box, confidence, landmarks, measures, advice, quality?, scores?,
    /// aligned? }], model?, backend }` (`aligned`: 112×112 RGBA bytes when `crops`).
    #[wasm_bindgen(js_name = assessRgba)]
    pub fn assess_rgba(
        &self,
        rgba: Vec<u8>,
        width: u32,
        height: u32,
        score: bool,
        crops: bool,
    ) -> Promise {
        self.assess(rgba, width, height, score, crops, false)
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
        self.assess(rgba, width, height, score, crops, true)
    }

    /// Forgets the followed faces: the next tracked frame runs the full detection.
    #[wasm_bindgen(js_name = resetTrack)]
    pub fn reset_track(&self) {
        let mut t = self.tracker.borrow_mut();
        t.0.reset();
        t.1 += 1;
    }

    /// Options of tracked assessment: the smallest face (px) searched by full detections, the
    /// number of frames between them, and whether tracked frames run only R-Net and O-Net on
    /// predicted boxes (`TrackMode::Refine`) rather than the whole detection on a window around
    /// the previous faces (`TrackMode::Window`). Resets the track.
    #[wasm_bindgen(js_name = setTracking)]
    pub fn set_tracking(&self, min_face_size: f64, redetect_every: u32, refine: bool) {
        let mut t = self.tracker.borrow_mut();
        let mode = if refine {
            TrackMode::Refine
        } else {
            TrackMode::Window
        };
        t.0 = Tracker::new()
            .with_min_face_size(min_face_size)
            .with_redetect_every(redetect_every)
            .with_mode(mode);
        t.1 += 1;
    }

    /// Frames assessed with `assessRgbaTracked` so far: `{ detected, tracked }`.
    #[wasm_bindgen(js_name = trackStats)]
    pub fn track_stats(&self) -> Result<JsValue, JsValue> {
        to_js(&self.tracker.borrow().0.stats())
    }

    fn assess(
        &self,
        rgba: Vec<u8>,
        width: u32,
        height: u32,
        score: bool,
        crops: bool,
        track: bool,
    ) -> Promise {
        let assessor = self.assessor.clone();
        let scorer = if score {
            self.scorer.borrow().clone()
        } else {
            None
        };
        let model = self.model.borrow().clone().filter(|_| score);
        let detector = self.detector.clone();
        let shared = self.tracker.clone();
        future_to_promise(async move {
            let work = async {
                let frame = Rc::new(RgbImage::from_rgba8(
                    width as usize,
                    height as usize,
                    &rgba,
                )?);
                let (start, epoch) = shared.borrow().clone();
                let attempt = || async {
                    let (a, backend) = assessor.get()?;
                    let s = match &scorer {
                        Some(p) => Some(p.get()?.0),
                        None => None,
                    };
                    let mut tracker = start.clone();
                    let r = if track {
                        a.assess_tracked_with_async(&frame, s.as_deref(), &mut tracker)
                            .await
                    } else {
                        a.assess_with_async(&frame, s.as_deref()).await
                    };
                    Ok::<_, Error>((r.map(|a| (a, tracker)), backend))
                };
                let ((a, tracker), backend) = match attempt().await? {
                    // Detector and scorer share the lost device: both move to the CPU.
                    (Err(e), Backend::WebGpu) if e.is_device_lost() => {
                        assessor.move_to_cpu(|| detector_on(&detector, Backend::Cpu), &e)?;
                        if let (Some(p), Some(m)) = (&scorer, &model) {
                            p.move_to_cpu(|| Scorer::cpu(m.clone()), &e)?;
                        }
                        let (r, backend) = attempt().await?;
                        (r?, backend)
                    }
                    (r, backend) => (r?, backend),
                };
                if track {
                    let mut cur = shared.borrow_mut();
                    if cur.1 == epoch {
                        cur.0 = tracker;
                    }
                }
                let fallback = assessor.fallback.borrow().clone();
                let out = to_js_json(&Placement {
                    result: AssessmentReport::new(&a, model.as_ref().map(|m| m.name()), false),
                    backend: backend.name(),
                    fallback_reason: fallback.as_deref(),
                })?;
                if crops {
                    attach_crops(&out, &a)?;
                }
                Ok(out)
            };
            work.await.map_err(|e| js_err(&e))
        })
    }

    /// Releases the detector, the model and their device memory.
    pub fn dispose(&self) {
        if let Some(s) = self.scorer.borrow_mut().take() {
            s.dispose(|s: &Scorer| s.device().clone());
        }
        self.assessor
            .dispose(|a: &Assessor| a.detector().device().clone());
    }
}
