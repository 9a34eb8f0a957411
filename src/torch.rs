//! Reader for PyTorch `torch.save` checkpoints (the zip format of torch ≥ 1.6) holding a
//! `state_dict` of floating-point tensors. No Python involved: a small pickle interpreter
//! understands exactly the opcodes and globals that `torch.save` emits for a state dict.

use std::io::{Cursor, Read};

use crate::error::{Error, Result};
use crate::graph::{Param, Params};

/// Reads all floating-point tensors of a `torch.save`d state dict (integer tensors such as
/// `num_batches_tracked` are skipped). Nested dicts (`{"state_dict": {...}}`,
/// `{"model": {...}}`) are searched for the first one that holds tensors.
pub fn read_state_dict(bytes: &[u8]) -> Result<Params> {
    if bytes.len() >= 2 && bytes[0] == 0x80 {
        return Err(Error::format(
            "legacy (pre-1.6, non-zip) torch.save format: load and re-save it with a current \
             PyTorch (torch.save(torch.load(f), f))",
        ));
    }
    if !bytes.starts_with(b"PK") {
        return Err(Error::format(
            "not a PyTorch checkpoint (expected a torch.save zip archive)",
        ));
    }
    let mut zip = zip::ZipArchive::new(Cursor::new(bytes))
        .map_err(|e| Error::format(format!("corrupt checkpoint archive: {e}")))?;
    let pkl_name = zip
        .file_names()
        .find(|n| n.ends_with("data.pkl") && n.matches('/').count() == 1)
        .map(str::to_string)
        .ok_or_else(|| Error::format("checkpoint archive has no `<name>/data.pkl`"))?;
    let prefix = pkl_name.trim_end_matches("data.pkl").to_string();
    let read = |zip: &mut zip::ZipArchive<Cursor<&[u8]>>, name: &str| -> Result<Vec<u8>> {
        let mut f = zip
            .by_name(name)
            .map_err(|e| Error::format(format!("checkpoint entry `{name}`: {e}")))?;
        let mut v = Vec::with_capacity(f.size() as usize);
        f.read_to_end(&mut v)
            .map_err(|e| Error::format(format!("checkpoint entry `{name}`: {e}")))?;
        Ok(v)
    };
    if let Ok(order) = read(&mut zip, &format!("{prefix}byteorder"))
        && order != b"little"
    {
        return Err(Error::format(
            "big-endian checkpoints are not supported".to_string(),
        ));
    }
    let pkl = read(&mut zip, &pkl_name)?;
    let root = Unpickler::new(&pkl).run()?;
    let dict = find_state_dict(&root)
        .ok_or_else(|| Error::format("checkpoint holds no dict of tensors (not a state_dict)"))?;
    let mut out = Params::new();
    for (k, v) in dict {
        let Value::Str(key) = k else { continue };
        let Value::Tensor(t) = v else { continue };
        if !t.dtype.is_float() {
            continue;
        }
        let raw = read(&mut zip, &format!("{prefix}data/{}", t.storage_key))?;
        let data = t.gather(&raw).map_err(|e| {
            Error::format(format!(
                "tensor `{key}`: {}",
                match e {
                    Error::Format(m) => m,
                    e => e.to_string(),
                }
            ))
        })?;
        out.insert(key.clone(), Param::new(t.size.clone(), data)?);
    }
    if out.is_empty() {
        return Err(Error::format("checkpoint holds no floating-point tensors"));
    }
    Ok(out)
}

fn find_state_dict(v: &Value) -> Option<&Vec<(Value, Value)>> {
    let Value::Dict(items) = v else { return None };
    if items.iter().any(|(_, v)| matches!(v, Value::Tensor(_))) {
        return Some(items);
    }
    items.iter().find_map(|(_, v)| find_state_dict(v))
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum DType {
    F32,
    F64,
    F16,
    BF16,
    Other(usize),
}

impl DType {
    fn from_storage(name: &str) -> Option<Self> {
        Some(match name {
            "FloatStorage" => DType::F32,
            "DoubleStorage" => DType::F64,
            "HalfStorage" => DType::F16,
            "BFloat16Storage" => DType::BF16,
            "LongStorage" => DType::Other(8),
            "IntStorage" => DType::Other(4),
            "ShortStorage" => DType::Other(2),
            "CharStorage" | "ByteStorage" | "BoolStorage" => DType::Other(1),
            _ => return None,
        })
    }
    fn size(self) -> usize {
        match self {
            DType::F32 => 4,
            DType::F64 => 8,
            DType::F16 | DType::BF16 => 2,
            DType::Other(n) => n,
        }
    }
    fn is_float(self) -> bool {
        !matches!(self, DType::Other(_))
    }
}

#[derive(Clone, Debug)]
struct TensorRef {
    storage_key: String,
    dtype: DType,
    offset: usize,
    size: Vec<usize>,
    stride: Vec<usize>,
}

impl TensorRef {
    fn gather(&self, raw: &[u8]) -> Result<Vec<f32>> {
        let es = self.dtype.size();
        if self.stride.len() != self.size.len() {
            return Err(Error::format(format!(
                "tensor has {} sizes but {} strides",
                self.size.len(),
                self.stride.len()
            )));
        }
        // The last element must lie inside the storage before anything is allocated.
        let last = self
            .size
            .iter()
            .zip(&self.stride)
            .try_fold(self.offset, |acc, (&d, &st)| {
                acc.checked_add(d.saturating_sub(1).checked_mul(st)?)
            });
        let n = self
            .size
            .iter()
            .try_fold(1usize, |a, &d| a.checked_mul(d))
            .filter(|&n| n <= raw.len() / es.max(1) || n == 0);
        let (Some(last), Some(n)) = (last, n) else {
            return Err(Error::format(format!(
                "tensor of shape {:?} does not fit its {}-byte storage `{}`",
                self.size,
                raw.len(),
                self.storage_key
            )));
        };
        if n > 0 && last.checked_mul(es).is_none_or(|b| b + es > raw.len()) {
            return Err(Error::format(format!(
                "tensor of shape {:?} (offset {}, strides {:?}) reads past its {}-byte storage `{}`",
                self.size,
                self.offset,
                self.stride,
                raw.len(),
                self.storage_key
            )));
        }
        let read = |i: usize| -> Result<f32> {
            let b = raw.get(i * es..(i + 1) * es).ok_or_else(|| {
                Error::format(format!(
                    "storage `{}` has {} bytes, element {i} is outside it",
                    self.storage_key,
                    raw.len()
                ))
            })?;
            Ok(match self.dtype {
                DType::F32 => f32::from_le_bytes(b.try_into().unwrap()),
                DType::F64 => f64::from_le_bytes(b.try_into().unwrap()) as f32,
                DType::F16 => half::f16::from_le_bytes(b.try_into().unwrap()).to_f32(),
                DType::BF16 => half::bf16::from_le_bytes(b.try_into().unwrap()).to_f32(),
                DType::Other(_) => unreachable!("integer tensors are skipped"),
            })
        };
        let mut out = Vec::with_capacity(n);
        let mut idx = vec![0usize; self.size.len()];
        for _ in 0..n {
            let pos = self.offset
                + idx
                    .iter()
                    .zip(&self.stride)
                    .map(|(i, s)| i * s)
                    .sum::<usize>();
            out.push(read(pos)?);
            for d in (0..idx.len()).rev() {
                idx[d] += 1;
                if idx[d] < self.size[d] {
                    break;
                }
                idx[d] = 0;
            }
        }
        Ok(out)
    }
}

#[derive(Clone, Debug)]
enum Value {
    None,
    Bool,
    Int(i64),
    Float,
    Str(String),
    Bytes,
    Tuple(Vec<Value>),
    List(Vec<Value>),
    Dict(Vec<(Value, Value)>),
    Global(String, String),
    Storage(String, DType),
    Tensor(TensorRef),
    /// The result of calling something we do not model (kept opaque).
    Object,
    Mark,
}

struct Unpickler<'a> {
    b: &'a [u8],
    pos: usize,
    stack: Vec<Value>,
    memo: std::collections::HashMap<u32, Value>,
}

impl<'a> Unpickler<'a> {
    fn new(b: &'a [u8]) -> Self {
        Self {
            b,
            pos: 0,
            stack: Vec::new(),
            memo: Default::default(),
        }
    }

    fn err(&self, m: impl std::fmt::Display) -> Error {
        Error::format(format!("checkpoint pickle, offset {}: {m}", self.pos))
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8]> {
        let end = self.pos.checked_add(n).filter(|&e| e <= self.b.len());
        let Some(end) = end else {
            return Err(self.err("truncated"));
        };
        let s = &self.b[self.pos..end];
        self.pos = end;
        Ok(s)
    }
    fn u8(&mut self) -> Result<u8> {
        Ok(self.take(1)?[0])
    }
    fn u16(&mut self) -> Result<u16> {
        Ok(u16::from_le_bytes(self.take(2)?.try_into().unwrap()))
    }
    fn u32(&mut self) -> Result<u32> {
        Ok(u32::from_le_bytes(self.take(4)?.try_into().unwrap()))
    }
    fn line(&mut self) -> Result<String> {
        let rest = &self.b[self.pos..];
        let n = rest
            .iter()
            .position(|&c| c == b'\n')
            .ok_or_else(|| self.err("unterminated line"))?;
        let s = String::from_utf8_lossy(&rest[..n]).into_owned();
        self.pos += n + 1;
        Ok(s)
    }
    fn pop(&mut self) -> Result<Value> {
        self.stack.pop().ok_or_else(|| self.err("stack underflow"))
    }
    fn pop_mark(&mut self) -> Result<Vec<Value>> {
        let m = self
            .stack
            .iter()
            .rposition(|v| matches!(v, Value::Mark))
            .ok_or_else(|| self.err("no mark on the stack"))?;
        let items = self.stack.split_off(m + 1);
        self.stack.pop();
        Ok(items)
    }
    fn top_mut(&mut self) -> Result<&mut Value> {
        let pos = self.pos;
        self.stack
            .last_mut()
            .ok_or_else(|| Error::format(format!("checkpoint pickle, offset {pos}: empty stack")))
    }
    fn string(&mut self, n: usize) -> Result<Value> {
        let s = self.take(n)?;
        Ok(Value::Str(
            std::str::from_utf8(s)
                .map_err(|_| self.err("invalid UTF-8 string"))?
                .to_string(),
        ))
    }

    fn run(mut self) -> Result<Value> {
        loop {
            let op = self.u8()?;
            match op {
                0x80 => {
                    let _proto = self.u8()?;
                }
                0x95 => {
                    self.take(8)?;
                } // FRAME
                b'.' => return self.pop(),
                b'(' => self.stack.push(Value::Mark),
                b'}' => self.stack.push(Value::Dict(vec![])),
                b']' => self.stack.push(Value::List(vec![])),
                b')' => self.stack.push(Value::Tuple(vec![])),
                b'N' => self.stack.push(Value::None),
                0x88 | 0x89 => self.stack.push(Value::Bool),
                b'J' => {
                    let v = i32::from_le_bytes(self.take(4)?.try_into().unwrap());
                    self.stack.push(Value::Int(v as i64))
                }
                b'K' => {
                    let v = self.u8()?;
                    self.stack.push(Value::Int(v as i64))
                }
                b'M' => {
                    let v = self.u16()?;
                    self.stack.push(Value::Int(v as i64))
                }
                0x8a => {
                    let n = self.u8()? as usize;
                    let b = self.take(n)?;
                    if n > 8 {
                        return Err(self.err("integer too large"));
                    }
                    let mut buf = [0u8; 8];
                    buf[..n].copy_from_slice(b);
                    if n > 0 && b[n - 1] & 0x80 != 0 {
                        buf[n..].fill(0xff);
                    }
                    self.stack.push(Value::Int(i64::from_le_bytes(buf)))
                }
                b'G' => {
                    self.take(8)?;
                    self.stack.push(Value::Float)
                }
                b'X' => {
                    let n = self.u32()? as usize;
                    let v = self.string(n)?;
                    self.stack.push(v)
                }
                0x8c => {
                    let n = self.u8()? as usize;
                    let v = self.string(n)?;
                    self.stack.push(v)
                }
                0x8d => {
                    let n = u64::from_le_bytes(self.take(8)?.try_into().unwrap()) as usize;
                    let v = self.string(n)?;
                    self.stack.push(v)
                }
                b'C' => {
                    let n = self.u8()? as usize;
                    self.take(n)?;
                    self.stack.push(Value::Bytes)
                }
                b'B' => {
                    let n = self.u32()? as usize;
                    self.take(n)?;
                    self.stack.push(Value::Bytes)
                }
                b'c' => {
                    let module = self.line()?;
                    let name = self.line()?;
                    self.stack.push(Value::Global(module, name))
                }
                0x93 => {
                    let name = self.pop()?;
                    let module = self.pop()?;
                    match (module, name) {
                        (Value::Str(m), Value::Str(n)) => self.stack.push(Value::Global(m, n)),
                        _ => return Err(self.err("STACK_GLOBAL needs two strings")),
                    }
                }
                b't' => {
                    let items = self.pop_mark()?;
                    self.stack.push(Value::Tuple(items))
                }
                0x85..=0x87 => {
                    let n = (op - 0x84) as usize;
                    if self.stack.len() < n {
                        return Err(self.err("stack underflow"));
                    }
                    let items = self.stack.split_off(self.stack.len() - n);
                    self.stack.push(Value::Tuple(items))
                }
                b'l' => {
                    let items = self.pop_mark()?;
                    self.stack.push(Value::List(items))
                }
                b'd' => {
                    let items = self.pop_mark()?;
                    let pairs = pairs(items).ok_or_else(|| self.err("odd DICT items"))?;
                    self.stack.push(Value::Dict(pairs))
                }
                b'q' => {
                    let k = self.u8()? as u32;
                    let v = self.top_mut()?.clone();
                    self.memo.insert(k, v);
                }
                b'r' => {
                    let k = self.u32()?;
                    let v = self.top_mut()?.clone();
                    self.memo.insert(k, v);
                }
                0x94 => {
                    let k = self.memo.len() as u32;
                    let v = self.top_mut()?.clone();
                    self.memo.insert(k, v);
                }
                b'h' | b'j' => {
                    let k = if op == b'h' {
                        self.u8()? as u32
                    } else {
                        self.u32()?
                    };
                    let v = self
                        .memo
                        .get(&k)
                        .cloned()
                        .ok_or_else(|| self.err(format!("memo {k} missing")))?;
                    self.stack.push(v)
                }
                b'0' => {
                    self.pop()?;
                }
                b'1' => {
                    self.pop_mark()?;
                }
                b'2' => {
                    let v = self.top_mut()?.clone();
                    self.stack.push(v)
                }
                b's' => {
                    let v = self.pop()?;
                    let k = self.pop()?;
                    match self.top_mut()? {
                        Value::Dict(d) => d.push((k, v)),
                        _ => return Err(self.err("SETITEM on a non-dict")),
                    }
                }
                b'u' => {
                    let items = self.pop_mark()?;
                    let p = pairs(items).ok_or_else(|| self.err("odd SETITEMS items"))?;
                    match self.top_mut()? {
                        Value::Dict(d) => d.extend(p),
                        Value::Object => {}
                        _ => return Err(self.err("SETITEMS on a non-dict")),
                    }
                }
                b'a' => {
                    let v = self.pop()?;
                    match self.top_mut()? {
                        Value::List(l) => l.push(v),
                        _ => return Err(self.err("APPEND on a non-list")),
                    }
                }
                b'e' => {
                    let items = self.pop_mark()?;
                    match self.top_mut()? {
                        Value::List(l) => l.extend(items),
                        Value::Object => {}
                        _ => return Err(self.err("APPENDS on a non-list")),
                    }
                }
                b'Q' => {
                    let pid = self.pop()?;
                    let v = self.persistent(pid)?;
                    self.stack.push(v)
                }
                b'R' => {
                    let args = self.pop()?;
                    let f = self.pop()?;
                    let v = self.reduce(f, args)?;
                    self.stack.push(v)
                }
                0x81 => {
                    let _args = self.pop()?;
                    let _cls = self.pop()?;
                    self.stack.push(Value::Object)
                }
                b'b' => {
                    // BUILD: set state (e.g. an OrderedDict's `_metadata`); irrelevant here.
                    self.pop()?;
                }
                other => {
                    return Err(self.err(format!("unsupported pickle opcode {other:#04x}")));
                }
            }
        }
    }

    fn persistent(&self, pid: Value) -> Result<Value> {
        // ('storage', <storage type global>, key, location, numel)
        let Value::Tuple(t) = pid else {
            return Err(self.err("persistent id is not a tuple"));
        };
        match t.as_slice() {
            [Value::Str(kind), Value::Global(_, ty), Value::Str(key), ..] if kind == "storage" => {
                let dtype = DType::from_storage(ty)
                    .ok_or_else(|| self.err(format!("unsupported storage type {ty}")))?;
                Ok(Value::Storage(key.clone(), dtype))
            }
            _ => Err(self.err("unrecognised persistent id")),
        }
    }

    fn reduce(&self, f: Value, args: Value) -> Result<Value> {
        let Value::Global(module, name) = &f else {
            return Ok(Value::Object);
        };
        let args = match args {
            Value::Tuple(a) => a,
            _ => return Err(self.err("REDUCE arguments are not a tuple")),
        };
        match (module.as_str(), name.as_str()) {
            ("collections", "OrderedDict") | ("builtins", "dict") => Ok(Value::Dict(vec![])),
            ("torch._utils", "_rebuild_tensor_v2") | ("torch._utils", "_rebuild_tensor") => {
                let (storage, offset, size, stride) = match args.as_slice() {
                    [s, o, sz, st, ..] => (s, o, sz, st),
                    _ => return Err(self.err("_rebuild_tensor: too few arguments")),
                };
                let Value::Storage(key, dtype) = storage else {
                    return Err(self.err("_rebuild_tensor: first argument is not a storage"));
                };
                let ints = |v: &Value| -> Result<Vec<usize>> {
                    match v {
                        Value::Tuple(t) | Value::List(t) => t
                            .iter()
                            .map(|x| match x {
                                Value::Int(i) if *i >= 0 => Ok(*i as usize),
                                _ => Err(self.err("bad tensor size/stride")),
                            })
                            .collect(),
                        _ => Err(self.err("tensor size/stride is not a tuple")),
                    }
                };
                let Value::Int(offset) = offset else {
                    return Err(self.err("bad storage offset"));
                };
                Ok(Value::Tensor(TensorRef {
                    storage_key: key.clone(),
                    dtype: *dtype,
                    offset: usize::try_from(*offset).map_err(|_| self.err("negative offset"))?,
                    size: ints(size)?,
                    stride: ints(stride)?,
                }))
            }
            ("torch._utils", "_rebuild_parameter") => {
                Ok(args.into_iter().next().unwrap_or(Value::None))
            }
            _ => Ok(Value::Object),
        }
    }
}

fn pairs(items: Vec<Value>) -> Option<Vec<(Value, Value)>> {
    if !items.len().is_multiple_of(2) {
        return None;
    }
    let mut it = items.into_iter();
    let mut out = Vec::new();
    while let (Some(k), Some(v)) = (it.next(), it.next()) {
        out.push((k, v));
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rejects_foreign_and_legacy_files() {
        assert!(matches!(read_state_dict(b"hello"), Err(Error::Format(_))));
        assert!(
            matches!(read_state_dict(&[0x80, 2, 0x8a]), Err(Error::Format(m)) if m.contains("legacy"))
        );
        assert!(matches!(
            read_state_dict(b"PK\x03\x04garbage"),
            Err(Error::Format(_))
        ));
    }

    #[test]
    fn unpickles_basic_values() {
        // {'a': (1, -2, 3.5), 'b': [True, None]} pickled with protocol 2.
        let p: &[u8] = b"\x80\x02}q\x00(X\x01\x00\x00\x00aq\x01K\x01J\xfe\xff\xff\xffG@\x0c\x00\x00\x00\x00\x00\x00\x87q\x02X\x01\x00\x00\x00bq\x03]q\x04(\x88Neu.";
        let v = Unpickler::new(p).run().unwrap();
        let Value::Dict(d) = v else { panic!() };
        assert_eq!(d.len(), 2);
        match &d[0].1 {
            Value::Tuple(t) => {
                assert!(matches!(t[0], Value::Int(1)));
                assert!(matches!(t[1], Value::Int(-2)));
                assert!(matches!(t[2], Value::Float));
            }
            _ => panic!(),
        }
        assert!(matches!(&d[1].1, Value::List(l) if l.len() == 2));
    }
}
