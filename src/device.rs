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

/// Tunes glibc's `malloc` for scoring many images in one process, as the CLI does; call it once,
/// early (before other threads allocate). Returns whether it applied (on glibc Linux only; a
/// no-op elsewhere).
///
/// A GraFIQs pass allocates and frees feature maps of megabytes at every layer. With glibc's
/// defaults each such block above 128 KB is mapped fresh from the kernel and unmapped when freed
/// (page faults and zeroing on every layer: about a sixth of a batch-8 pass in `perf`), and the
/// top of the heap is handed back as soon as it is free. This keeps blocks up to 32 MB on the
/// heap and freed memory in the process (resident memory stays at the peak instead of falling
/// back between images). Measured with the criterion bench, same run: the shipped model at
/// batch 8 takes about 0.8× the time, batch 1 is unchanged.
pub fn tune_system_allocator() -> bool {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        // SAFETY: mallopt only sets the allocator's parameters (both values are in range: the
        // mmap threshold's maximum is 32 MB on 64-bit glibc).
        unsafe {
            libc::mallopt(libc::M_MMAP_THRESHOLD, 32 << 20) == 1
                && libc::mallopt(libc::M_TRIM_THRESHOLD, i32::MAX) == 1
        }
    }
    #[cfg(not(all(target_os = "linux", target_env = "gnu")))]
    {
        false
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
