//! The public scoring API: a [`Model`] on a device, scoring [`RgbImage`] faces with
//! [`crate::grafiqs`] and mapping the raw scores to quality with the model's [`Calibration`].

use burn::tensor::Device;

use crate::device::BackendKind;
#[cfg(not(target_family = "wasm"))]
use crate::device::block_on;
use crate::engine::Network;
use crate::error::{Error, Result};
use crate::grafiqs::{self, Activations, Raw, Scores};
use crate::image::RgbImage;
use crate::model::{Calibration, Model};

/// Channel order of the pixels handed to the network.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum ChannelOrder {
    /// Red, green, blue (correct for every supported model).
    #[default]
    Rgb,
    /// Blue, green, red: what the reference tool feeds when `--bgr2rgb` is not given
    /// (OpenCV's decode order); only for reproducing its outputs.
    Bgr,
}

/// Everything a scoring pass says about one face.
#[derive(Clone, Debug, PartialEq)]
pub struct Scored {
    /// The five raw GraFIQs scores (larger = worse).
    pub scores: Scores,
    /// Quality 0–100 (higher = better): the model's calibration applied to its raw score
    /// (see [`Calibration`]); the default mapping when the model was never calibrated.
    pub quality: f64,
    /// Whether `quality` comes from a calibration fitted for this model.
    pub calibrated: bool,
    /// The GraFIQs loss (mean BatchNorm statistics mismatch).
    pub loss: f64,
    /// The face-recognition embedding from the same forward pass (not L2-normalised).
    pub embedding: Vec<f32>,
}

impl Scored {
    /// The embedding scaled to unit length (the usual face template).
    pub fn normalized_embedding(&self) -> Vec<f32> {
        let n = self.embedding.iter().map(|v| v * v).sum::<f32>().sqrt();
        self.embedding
            .iter()
            .map(|v| v / n.max(f32::MIN_POSITIVE))
            .collect()
    }
}

/// Scores face images with GraFIQs on one device.
///
/// ```no_run
/// # fn main() -> grafiqs::Result<()> {
/// let model = grafiqs::Model::from_bytes(&std::fs::read("mobilefacenet.grafiqs").unwrap())?;
/// let scorer = grafiqs::Scorer::cpu(model)?;
/// let face = grafiqs::RgbImage::decode(&std::fs::read("face.jpg").unwrap())?;
/// let result = &scorer.score(&[face])?[0];
/// println!("block1 = {} (larger = worse)", result.scores.block1);
/// # Ok(()) }
/// ```
pub struct Scorer {
    model: Model,
    net: Network,
    backend: BackendKind,
    calibration: Calibration,
    calibrated: bool,
}

impl Scorer {
    /// A scorer on an existing Burn device (autodiff is enabled on it).
    pub fn on_device(model: Model, device: &Device, backend: BackendKind) -> Result<Self> {
        let net = Network::new(&model, device)?;
        let (calibration, calibrated) = match &model.meta().calibration {
            Some(c) => (c.clone(), true),
            None => (Calibration::default_mapping(), false),
        };
        Ok(Self {
            model,
            net,
            backend,
            calibration,
            calibrated,
        })
    }

    /// A scorer on the CPU backend.
    pub fn cpu(model: Model) -> Result<Self> {
        Self::on_device(model, &Device::flex(), BackendKind::Cpu)
    }

    /// A scorer on the default wgpu adapter (native). Fails with [`Error::Backend`] when no
    /// adapter is available. The adapter is initialised once per process and shared.
    #[cfg(all(feature = "wgpu", not(target_family = "wasm")))]
    pub fn wgpu(model: Model) -> Result<Self> {
        Self::on_device(model, &crate::device::wgpu_device()?, BackendKind::Wgpu)
    }

    /// The model.
    pub fn model(&self) -> &Model {
        &self.model
    }

    /// The device the scorer runs on.
    pub fn device(&self) -> &Device {
        self.net.device()
    }

    /// The backend in use.
    pub fn backend(&self) -> BackendKind {
        self.backend
    }

    /// Network input for `faces` (resized to the model's input size if needed, normalised),
    /// `[N, 3, H, W]`.
    pub fn prepare(&self, faces: &[RgbImage], order: ChannelOrder) -> Vec<f32> {
        let meta = self.model.meta();
        let [h, w] = meta.input_size;
        let mut data = Vec::with_capacity(faces.len() * 3 * h * w);
        for f in faces {
            data.extend(meta.preprocess.apply(f, [h, w], order == ChannelOrder::Bgr));
        }
        data
    }

    /// Scores a batch of faces (RGB). The batch gives the same per-face results as scoring
    /// each face alone.
    pub async fn score_async(&self, faces: &[RgbImage]) -> Result<Vec<Scored>> {
        self.score_ordered_async(faces, ChannelOrder::Rgb).await
    }

    /// Like [`Scorer::score_async`], choosing the channel order fed to the network.
    pub async fn score_ordered_async(
        &self,
        faces: &[RgbImage],
        order: ChannelOrder,
    ) -> Result<Vec<Scored>> {
        if faces.is_empty() {
            return Ok(Vec::new());
        }
        let raw = grafiqs::score(&self.net, self.prepare(faces, order), faces.len()).await?;
        Ok(self.finish(raw))
    }

    /// The calibration that turns raw scores into `quality`, and whether it was fitted for
    /// this model (`false`: the default mapping).
    pub fn calibration(&self) -> (&Calibration, bool) {
        (&self.calibration, self.calibrated)
    }

    fn finish(&self, raw: Vec<Raw>) -> Vec<Scored> {
        raw.into_iter()
            .map(|r| Scored {
                quality: self
                    .calibration
                    .quality(r.scores.get(self.calibration.score)),
                calibrated: self.calibrated,
                scores: r.scores,
                loss: r.loss,
                embedding: r.embedding,
            })
            .collect()
    }

    /// Scores already-normalised network input (`[N, 3, H, W]` row-major).
    pub async fn score_input_async(&self, data: Vec<f32>, n: usize) -> Result<Vec<Scored>> {
        if let Some(i) = data.iter().position(|v| !v.is_finite()) {
            return Err(Error::Input(format!("input value {i} is not finite")));
        }
        Ok(self.finish(grafiqs::score(&self.net, data, n).await?))
    }

    /// Per-layer BatchNorm input statistics (what GraFIQs compares with the running
    /// statistics), the four stage outputs and the embedding of each face (no gradients).
    pub async fn activations_async(&self, faces: &[RgbImage]) -> Result<Vec<Activations>> {
        if faces.is_empty() {
            return Ok(Vec::new());
        }
        grafiqs::activations(
            &self.net,
            self.prepare(faces, ChannelOrder::Rgb),
            faces.len(),
        )
        .await
    }

    /// Blocking [`Scorer::activations_async`] (native only).
    #[cfg(not(target_family = "wasm"))]
    pub fn activations(&self, faces: &[RgbImage]) -> Result<Vec<Activations>> {
        block_on(self.activations_async(faces))
    }

    /// Embeddings without gradients (faster when no quality is needed).
    pub async fn embed_async(&self, faces: &[RgbImage]) -> Result<Vec<Vec<f32>>> {
        if faces.is_empty() {
            return Ok(Vec::new());
        }
        self.net
            .embed(self.prepare(faces, ChannelOrder::Rgb), faces.len())
            .await
    }

    /// Blocking [`Scorer::score_async`] (native only).
    #[cfg(not(target_family = "wasm"))]
    pub fn score(&self, faces: &[RgbImage]) -> Result<Vec<Scored>> {
        block_on(self.score_async(faces))
    }

    /// Blocking [`Scorer::score_ordered_async`] (native only).
    #[cfg(not(target_family = "wasm"))]
    pub fn score_ordered(&self, faces: &[RgbImage], order: ChannelOrder) -> Result<Vec<Scored>> {
        block_on(self.score_ordered_async(faces, order))
    }

    /// Blocking [`Scorer::embed_async`] (native only).
    #[cfg(not(target_family = "wasm"))]
    pub fn embed(&self, faces: &[RgbImage]) -> Result<Vec<Vec<f32>>> {
        block_on(self.embed_async(faces))
    }
}
