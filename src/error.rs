//! The one error type of the library.
//!
//! Every variant has a stable [`Error::code`] (the JS package puts it on its `Error` objects,
//! the CLI prints it with `--json`). Context — which file, which image of a batch — is added
//! by wrapping ([`Error::context`], [`ResultExt`]), never by rebuilding message strings, so the
//! kind of the innermost error ([`Error::root`]) survives and drives behaviour: only
//! [`Error::DeviceLost`] makes the browser binding move to the CPU.

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
    /// The compute backend is unavailable or refused the work (no adapter, out of memory).
    #[error("backend error: {0}")]
    Backend(String),
    /// The GPU device was lost (driver reset, the browser reclaimed it). The work can be
    /// redone on another device; the browser binding then moves to the CPU for good.
    #[error("GPU device lost: {0}")]
    DeviceLost(String),
    /// A broken invariant inside grafiqs: a bug, never the caller's input. Reported, never
    /// retried elsewhere.
    #[error("internal error (please report): {0}")]
    Internal(String),
    /// An I/O error, with the path it concerns.
    #[error("{path}: {source}")]
    Io {
        /// The file that was being read or written.
        path: String,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// Another error with what was being done when it happened (a file, an image of a batch).
    #[error("{context}: {source}")]
    Context {
        /// What was being done, e.g. a path or `image 3`.
        context: String,
        /// The error itself.
        #[source]
        source: Box<Error>,
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

    /// This error with `context` (what was being done) in front of its message.
    pub fn context(self, context: impl Into<String>) -> Self {
        Error::Context {
            context: context.into(),
            source: Box::new(self),
        }
    }

    /// The innermost error, below every [`Error::Context`].
    pub fn root(&self) -> &Error {
        match self {
            Error::Context { source, .. } => source.root(),
            e => e,
        }
    }

    /// Whether the GPU device was lost (the only error worth retrying on another device).
    pub fn is_device_lost(&self) -> bool {
        matches!(self.root(), Error::DeviceLost(_))
    }

    /// A stable machine-readable code for the kind of error (of [`Error::root`]):
    /// `invalid_model`, `wrong_architecture`, `invalid_image`, `invalid_input`, `backend`,
    /// `device_lost`, `internal` or `io`.
    pub fn code(&self) -> &'static str {
        match self.root() {
            Error::Format(_) => "invalid_model",
            Error::Architecture { .. } => "wrong_architecture",
            Error::Image(_) => "invalid_image",
            Error::Input(_) => "invalid_input",
            Error::Backend(_) => "backend",
            Error::DeviceLost(_) => "device_lost",
            Error::Io { .. } => "io",
            // `root()` never returns a context.
            Error::Internal(_) | Error::Context { .. } => "internal",
        }
    }
}

/// Adds context to the error of a `Result` (see [`Error::context`]).
pub trait ResultExt<T> {
    /// Wraps the error with `context`.
    fn context(self, context: impl Into<String>) -> Result<T>;
    /// Wraps the error with the context `f` computes (only on error).
    fn with_context<S: Into<String>>(self, f: impl FnOnce() -> S) -> Result<T>;
}

impl<T> ResultExt<T> for Result<T> {
    fn context(self, context: impl Into<String>) -> Result<T> {
        self.map_err(|e| e.context(context))
    }
    fn with_context<S: Into<String>>(self, f: impl FnOnce() -> S) -> Result<T> {
        self.map_err(|e| e.context(f()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn context_wraps_and_keeps_the_kind() {
        let e: Result<()> = Err(Error::Image("too small".into()));
        let e = e.context("image 3").context("faces/a.jpg").unwrap_err();
        assert_eq!(
            e.to_string(),
            "faces/a.jpg: image 3: invalid image: too small"
        );
        assert!(matches!(e.root(), Error::Image(_)));
        assert_eq!(e.code(), "invalid_image");
        assert!(!e.is_device_lost());
        let lost = Error::DeviceLost("reset".into()).context("scoring");
        assert!(lost.is_device_lost());
        assert_eq!(lost.code(), "device_lost");
        assert_eq!(Error::Internal("x".into()).code(), "internal");
        assert_eq!(Error::Backend("no adapter".into()).code(), "backend");
    }
}
