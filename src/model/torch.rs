//! PyTorch checkpoints (`torch.save`) as [`Params`], through the maintained
//! [`pytorch_reader`] crate: the zip format of torch ≥ 1.6, the legacy pickle stream of
//! torch 0.1.10–1.5, the early TAR format, and full-model saves (`torch.save(model)`, read as
//! the module's `state_dict()`). No Python involved.
//!
//! This module only turns the reader's tensors into f32 parameters and its errors into
//! [`Error::Format`] messages that say what is wrong; which keys and shapes an architecture
//! needs is checked by the architecture ([`crate::model::arch`]).

use pytorch_reader::{DType, PytorchError, PytorchReader};

use crate::error::{Error, Result};
use crate::model::graph::{Param, Params};

/// Keys under which training scripts commonly nest the weights
/// (`{"state_dict": {...}, "optimizer": {...}, "epoch": 3}`); the first one present is used.
const WRAPPERS: [&str; 5] = ["state_dict", "model_state_dict", "model", "net", "backbone"];

/// Which `torch.save` layout a checkpoint uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CheckpointFormat {
    /// A zip archive (torch ≥ 1.6, the default).
    Zip,
    /// The legacy pickle stream (torch 0.1.10 … 1.5, or `_use_new_zipfile_serialization=False`).
    Legacy,
    /// The TAR layout of torch < 0.1.10.
    Tar,
    /// A bare pickle.
    Pickle,
}

/// Reads every floating-point tensor of a `torch.save`d state dict or module, converted to
/// f32 (integer tensors such as `num_batches_tracked` are skipped). When the weights are
/// nested under one of the usual keys (`state_dict`, `model`, …) only those are returned,
/// without the prefix.
pub fn read_state_dict(bytes: &[u8]) -> Result<Params> {
    read_checkpoint(bytes).map(|(p, _)| p)
}

/// [`read_state_dict`], also telling the container format that was found.
pub fn read_checkpoint(bytes: &[u8]) -> Result<(Params, CheckpointFormat)> {
    let looks_like_tar = bytes.len() > 262 && &bytes[257..262] == b"ustar";
    if !(bytes.starts_with(b"PK") || bytes.first() == Some(&0x80) || looks_like_tar) {
        return Err(Error::format(
            "not a PyTorch checkpoint (expected a torch.save file: a zip archive, or the \
             legacy pickle stream)",
        ));
    }
    let reader = PytorchReader::from_bytes(bytes.to_vec(), None).map_err(describe)?;
    let format = match reader.metadata().format_type {
        pytorch_reader::FileFormat::Zip => CheckpointFormat::Zip,
        pytorch_reader::FileFormat::Legacy => CheckpointFormat::Legacy,
        pytorch_reader::FileFormat::Tar => CheckpointFormat::Tar,
        pytorch_reader::FileFormat::Pickle => CheckpointFormat::Pickle,
    };
    let tensors = reader.into_tensors();
    let wrapper = WRAPPERS.iter().find_map(|w| {
        let prefix = format!("{w}.");
        tensors
            .keys()
            .any(|k| k.starts_with(&prefix))
            .then_some(prefix)
    });
    let mut out = Params::new();
    for (name, t) in tensors {
        let key = match &wrapper {
            Some(p) => match name.strip_prefix(p.as_str()) {
                Some(k) => k.to_string(),
                None => continue,
            },
            None => name.clone(),
        };
        let convert: fn(&[u8]) -> f32 = match t.dtype() {
            DType::F32 => |b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]),
            DType::F64 => |b| f64::from_le_bytes(b.try_into().unwrap_or([0; 8])) as f32,
            DType::F16 => |b| half::f16::from_le_bytes([b[0], b[1]]).to_f32(),
            DType::BF16 => |b| half::bf16::from_le_bytes([b[0], b[1]]).to_f32(),
            _ => continue,
        };
        let size = t.dtype().size();
        let raw = t
            .read()
            .map_err(|e| Error::format(format!("PyTorch checkpoint: {e}")))?;
        if raw.len() != t.byte_len() {
            return Err(Error::format(format!(
                "PyTorch checkpoint: tensor `{name}` of shape {:?} needs {} bytes, its storage \
                 holds {}",
                t.shape(),
                t.byte_len(),
                raw.len()
            )));
        }
        let data = raw.chunks_exact(size).map(convert).collect();
        out.insert(key, Param::new(t.shape().to_vec(), data)?);
    }
    if out.is_empty() {
        return Err(Error::format(
            "PyTorch checkpoint holds no floating-point tensors (not a state dict or module)",
        ));
    }
    Ok((out, format))
}

/// The reader's error as a message that names the container problem.
fn describe(e: PytorchError) -> Error {
    Error::format(match e {
        PytorchError::Io(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => {
            format!("PyTorch checkpoint is truncated: {e}")
        }
        e => format!("PyTorch checkpoint: {e}"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rejects_foreign_and_damaged_files() {
        let m = read_state_dict(b"hello").unwrap_err().to_string();
        assert!(m.contains("not a PyTorch checkpoint"), "{m}");
        assert!(matches!(
            read_state_dict(&[0x80, 2, 0x8a]),
            Err(Error::Format(_))
        ));
        assert!(matches!(
            read_state_dict(b"PK\x03\x04garbage"),
            Err(Error::Format(_))
        ));
    }
}
