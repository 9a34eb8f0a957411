//! # grafiqs
//!
//! Face image quality assessment with **GraFIQs** (Kolf, Damer, Boutros, CVPRW 2024): a
//! pretrained face-recognition network's BatchNorm layers remember the statistics of their
//! training data; an image's mismatch with them is back-propagated, and the summed gradient
//! magnitudes are its quality (larger = worse). Training-free, and the same Rust code runs
//! natively (CPU or wgpu) and in the browser (WebAssembly on WebGPU or CPU).
//!
//! * [`Model`]: a network in host memory — imported from a PyTorch iResNet checkpoint
//!   ([`Model::from_torch`]), an MXNet model such as the InsightFace MobileFaceNet
//!   ([`Model::from_mxnet`]), or the project's own file format ([`Model::from_bytes`]).
//! * [`Scorer`]: uploads a model to a device and scores batches of faces, returning the five
//!   raw scores ([`Scores`]: image, block1…block4), the loss and the face embedding.
//! * [`RgbImage`], [`align`]: decoding, resizing and ArcFace alignment.
//! * [`Detector`]: MTCNN face detection with five landmarks (bundled MIT-licensed weights), to
//!   find and align faces in ordinary photos.
//! * [`eval`]: Error-versus-Discard curves (FNMR at a fixed FMR as low-quality comparisons are
//!   discarded) for judging quality scores, and degradation sweeps (how each raw score follows
//!   blur, noise, darkening, occlusion and JPEG damage).
//! * [`calibrate`]: fitting a model's raw score → 0–100 quality map ([`Calibration`]).
//!
//! Errors are values ([`Error`]); no input makes the library panic.
//!
//! # Layout
//! The modules follow the data, each a room that only uses the rooms before it (a test,
//! `tests/layout.rs`, holds this order): [`error`], [`rng`] → [`image`] (pixels) → [`model`]
//! (model files) → [`device`] → [`engine`] (the interpreter) → [`grafiqs`] (the method) →
//! [`scorer`] → [`calibrate`] → [`capture`] (detection, guidance, assessment) → [`report`]
//! (the result model) → [`eval`] → `web` (the browser binding).

pub mod calibrate;
pub mod capture;
pub mod device;
pub mod engine;
pub mod error;
pub mod eval;
pub mod grafiqs;
pub mod image;
pub mod model;
pub mod report;
pub mod rng;
pub mod scorer;
#[cfg(target_family = "wasm")]
pub mod web;

pub use capture::assess::{Assessment, Assessor};
pub use capture::detect::{Detector, Face, TrackMode, Tracker};
pub use device::BackendKind;
pub use error::{Error, Result};
pub use grafiqs::Scores;
pub use image::{RgbImage, align, degrade};
pub use model::{Calibration, Model, ModelMeta, Preprocess, ScoreKind, Storage};
pub use scorer::{ChannelOrder, Scored, Scorer};
