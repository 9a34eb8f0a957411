//! Compute devices: which backend runs ([`BackendKind`]), the shared native wgpu device, moving
//! host data onto a device and results back. Everything that runs a network (the scorer, the
//! detector, the browser bindings) sets its device up here.

use burn::tensor::{Device, Tensor, TensorData};

use crate::error::{Error, Result};
use crate::model::graph::Param;

/// Which compute backend a [`crate::Scorer`] or [`crate::Detector`] runs on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum BackendKind {
    /// Burn's pure-Rust CPU backend (`flex`), native and in WebAssembly.
    Cpu,
    /// burn-wgpu: Vulkan/Metal/DX12 natively, WebGPU in the browser.
    Wgpu,
}

impl BackendKind {
    /// `cpu` or `wgpu`.
    pub fn name(self) -> &'static str {
        match self {
            BackendKind::Cpu => "cpu",
            BackendKind::Wgpu => "wgpu",
        }
    }
}

/// The default wgpu adapter's device (native), initialised once per process and shared by
/// every [`crate::Scorer`] and [`crate::Detector`] on wgpu. Fails with [`Error::Backend`] when no
/// adapter is available (the failure is remembered).
#[cfg(all(feature = "wgpu", not(target_family = "wasm")))]
pub fn wgpu_device() -> Result<Device> {
    static DEVICE: std::sync::OnceLock<std::result::Result<Device, String>> =
        std::sync::OnceLock::new();
    DEVICE
        .get_or_init(|| {
            Device::wgpu_options()
                .init()
                .map_err(|e| format!("no usable wgpu adapter: {e:?}"))
        })
        .clone()
        .map_err(Error::Backend)
}

/// Runs a future to completion on the current thread (native only).
#[cfg(not(target_family = "wasm"))]
pub fn block_on<T>(f: impl std::future::Future<Output = T>) -> T {
    burn::tensor::read_sync(f)
}

/// Reads a tensor back to the host asynchronously (the only read WebGPU allows). Fails with
/// [`Error::DeviceLost`] when the device does not deliver.
pub async fn read<const D: usize>(t: Tensor<D>) -> Result<Vec<f32>> {
    let data = t
        .into_data_async()
        .await
        // The work was accepted; a device that cannot hand back its results is gone (lost,
        // reset, out of memory): the one error worth redoing elsewhere.
        .map_err(|e| Error::DeviceLost(format!("reading results from the device failed: {e:?}")))?;
    data.convert::<f32>()
        .try_into_vec::<f32>()
        .map_err(|e| Error::Internal(format!("unexpected result data: {e:?}")))
}

/// Uploads a parameter as a `D`-dimensional tensor, checking its shape.
pub fn upload<const D: usize>(param: &Param, device: &Device) -> Result<Tensor<D>> {
    if param.shape.len() != D || param.shape.iter().product::<usize>() != param.data.len() {
        return Err(Error::Internal(format!(
            "parameter of shape {:?} ({} values) used as a {D}-D tensor",
            param.shape,
            param.data.len()
        )));
    }
    Ok(Tensor::<D>::from_data(
        TensorData::new(param.data.clone(), param.shape.clone()),
        device,
    ))
}

/// Uploads host values as a 1-D tensor.
pub fn upload_vec(values: &[f32], device: &Device) -> Tensor<1> {
    Tensor::<1>::from_data(TensorData::new(values.to_vec(), [values.len()]), device)
}
