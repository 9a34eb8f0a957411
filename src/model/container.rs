//! The project's single-file tensor container (`.grafiqs`), shared by face-recognition models
//! and the face detector.
//!
//! | bytes | content |
//! |---|---|
//! | 8 | magic `GRAFIQS\0` |
//! | 4 | format version, u32 little-endian (1) |
//! | 4 | reserved flags, u32 (0) |
//! | 8 | header length `H`, u64 little-endian |
//! | `H` | UTF-8 JSON object: `kind` (`recognition` or `detector`), kind-specific metadata, and `tensors`: name, shape, dtype (`f32`/`f16`), byte offset and length in the data section |
//! | … | data section: little-endian tensor values, each tensor 4-byte aligned |
//! | 4 | CRC-32 (IEEE) of every preceding byte |

use std::collections::HashSet;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::error::{Error, Result};
use crate::model::graph::{Param, Params};

/// File signature.
pub const MAGIC: &[u8; 8] = b"GRAFIQS\0";
/// Format version written and read by this build.
pub const VERSION: u32 = 1;

#[derive(Serialize, Deserialize)]
struct TensorEntry {
    name: String,
    shape: Vec<usize>,
    dtype: String,
    offset: usize,
    length: usize,
}

/// Serialises `header` (a JSON object; a `tensors` table is added) and `params`; tensors named
/// in `half` are stored as f16.
pub fn write(mut header: Value, params: &Params, half: &HashSet<&str>) -> Vec<u8> {
    let mut data = Vec::new();
    let mut tensors = Vec::new();
    for (name, p) in params {
        while data.len() % 4 != 0 {
            data.push(0);
        }
        let offset = data.len();
        let f16 = half.contains(name.as_str());
        for &v in &p.data {
            if f16 {
                data.extend_from_slice(&half::f16::from_f32(v).to_le_bytes());
            } else {
                data.extend_from_slice(&v.to_le_bytes());
            }
        }
        tensors.push(TensorEntry {
            name: name.clone(),
            shape: p.shape.clone(),
            dtype: if f16 { "f16" } else { "f32" }.into(),
            offset,
            length: data.len() - offset,
        });
    }
    header["tensors"] = serde_json::to_value(tensors).expect("tensor table serialises");
    let header = serde_json::to_vec(&header).expect("header serialises");
    let mut out = Vec::with_capacity(28 + header.len() + data.len());
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&VERSION.to_le_bytes());
    out.extend_from_slice(&0u32.to_le_bytes());
    out.extend_from_slice(&(header.len() as u64).to_le_bytes());
    out.extend_from_slice(&header);
    out.extend_from_slice(&data);
    let crc = crc32fast::hash(&out);
    out.extend_from_slice(&crc.to_le_bytes());
    out
}

/// Parses a container: the header object (without `tensors`) and the tensors as f32.
/// Truncation, corruption (CRC), foreign files and inconsistent tables are errors.
pub fn read(bytes: &[u8]) -> Result<(Value, Params)> {
    let fmt = |m: String| Error::Format(m);
    if bytes.len() < 28 || &bytes[..8] != MAGIC {
        let what = if bytes.starts_with(b"PK") {
            " (this looks like a PyTorch checkpoint: convert it with `grafiqs convert`)"
        } else if bytes.starts_with(&0x112u64.to_le_bytes()) {
            " (this looks like MXNet .params: convert it with `grafiqs convert`)"
        } else {
            ""
        };
        return Err(fmt(format!("not a grafiqs model file{what}")));
    }
    let version = u32::from_le_bytes(bytes[8..12].try_into().unwrap());
    if version != VERSION {
        return Err(fmt(format!(
            "model format version {version} is not supported (this build reads {VERSION})"
        )));
    }
    let hlen = u64::from_le_bytes(bytes[16..24].try_into().unwrap());
    let body_end = bytes.len() - 4;
    let data_start = usize::try_from(hlen)
        .ok()
        .and_then(|h| h.checked_add(24))
        .filter(|&e| e <= body_end)
        .ok_or_else(|| {
            fmt(format!(
                "truncated: header of {hlen} bytes does not fit in a {}-byte file",
                bytes.len()
            ))
        })?;
    let stored = u32::from_le_bytes(bytes[body_end..].try_into().unwrap());
    let actual = crc32fast::hash(&bytes[..body_end]);
    if stored != actual {
        return Err(fmt(format!(
            "checksum mismatch (stored {stored:#010x}, computed {actual:#010x}): the file is truncated or corrupt"
        )));
    }
    let mut header: Value =
        serde_json::from_slice(&bytes[24..data_start]).map_err(|e| fmt(format!("header: {e}")))?;
    let table = header
        .as_object_mut()
        .and_then(|o| o.remove("tensors"))
        .ok_or_else(|| fmt("header has no tensor table".into()))?;
    let table: Vec<TensorEntry> =
        serde_json::from_value(table).map_err(|e| fmt(format!("tensor table: {e}")))?;
    let data = &bytes[data_start..body_end];
    let mut params = Params::new();
    for t in table {
        let n = t
            .shape
            .iter()
            .try_fold(1usize, |a, &d| a.checked_mul(d))
            .ok_or_else(|| {
                fmt(format!(
                    "tensor `{}`: shape {:?} overflows",
                    t.name, t.shape
                ))
            })?;
        let es = match t.dtype.as_str() {
            "f32" => 4,
            "f16" => 2,
            d => return Err(fmt(format!("tensor `{}`: unknown dtype `{d}`", t.name))),
        };
        let raw = t
            .offset
            .checked_add(t.length)
            .filter(|&e| e <= data.len() && Some(t.length) == n.checked_mul(es))
            .map(|e| &data[t.offset..e])
            .ok_or_else(|| {
                fmt(format!(
                    "tensor `{}` ({} bytes at data offset {}) lies outside the {}-byte data section or does not match its shape {:?}",
                    t.name,
                    t.length,
                    t.offset,
                    data.len(),
                    t.shape
                ))
            })?;
        let values: Vec<f32> = if es == 4 {
            raw.chunks_exact(4)
                .map(|c| f32::from_le_bytes(c.try_into().unwrap()))
                .collect()
        } else {
            raw.chunks_exact(2)
                .map(|c| half::f16::from_le_bytes(c.try_into().unwrap()).to_f32())
                .collect()
        };
        if let Some(bad) = values.iter().position(|v| !v.is_finite()) {
            return Err(fmt(format!(
                "tensor `{}` holds a non-finite value at index {bad}",
                t.name
            )));
        }
        if params
            .insert(t.name.clone(), Param::new(t.shape, values)?)
            .is_some()
        {
            return Err(fmt(format!("tensor `{}` is stored twice", t.name)));
        }
    }
    Ok((header, params))
}

/// Hex SHA-256 of the concatenation of `parts`.
pub fn sha256_hex(parts: &[&[u8]]) -> String {
    use sha2::Digest;
    let mut h = sha2::Sha256::new();
    for p in parts {
        h.update(p);
    }
    h.finalize().iter().map(|b| format!("{b:02x}")).collect()
}
