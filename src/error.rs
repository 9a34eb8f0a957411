//! The one error type of the library.

use thiserror::Error;

/// Everything that can go wrong in grafiqs, as a value (the library never panics on bad input).
#[derive(Debug, Error)]
pub enum Error {
    /// A model file or checkpoint could not be parsed (truncated, corrupt, foreign format).
    #[error("invalid model file: {0}")]
    Format(String),
    /// A checkpoint parsed but does not fit the requested architecture (missing, extra or
    /// mis-shaped parameters, unsupported operators).
    #[error("model does not match architecture `{arch}`: {detail}")]
    Architecture {
        /// The architecture that was requested.
        arch: String,
        /// What did not fit, naming the key and shapes.
        detail: String,
    },
    /// An image could not be decoded or has unusable dimensions.
    #[error("invalid image: {0}")]
    Image(String),
    /// Input data of the wrong size, or containing NaN/infinite values.
    #[error("invalid input: {0}")]
    Input(String),
    /// The compute backend failed (device lost, out of memory, unavailable adapter).
    #[error("backend error: {0}")]
    Backend(String),
    /// An I/O error, with the path it concerns.
    #[error("{path}: {source}")]
    Io {
        /// The file that was being read or written.
        path: String,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
}

/// Shorthand for `Result<T, grafiqs::Error>`.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    pub(crate) fn format(msg: impl Into<String>) -> Self {
        Error::Format(msg.into())
    }
    pub(crate) fn arch(arch: impl Into<String>, detail: impl Into<String>) -> Self {
        Error::Architecture {
            arch: arch.into(),
            detail: detail.into(),
        }
    }
    /// An I/O error about `path`.
    pub fn io(path: impl AsRef<std::path::Path>, source: std::io::Error) -> Self {
        Error::Io {
            path: path.as_ref().display().to_string(),
            source,
        }
    }
}
