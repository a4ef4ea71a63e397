//! The one error type of the crate. Every message says what went wrong and
//! what to do about it; nothing in the public API panics on bad input.

/// Everything that can go wrong in `slimmable`.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A backend cannot be used on this machine (missing driver, library or adapter).
    #[error("{backend} backend unavailable: {reason}")]
    BackendUnavailable {
        backend: &'static str,
        reason: String,
    },

    /// A shape, view or parameter that cannot work.
    #[error("invalid {what}: {reason}")]
    Invalid { what: String, reason: String },

    /// A CUDA driver call failed.
    #[error("CUDA error in {context}: {message}")]
    Cuda { context: String, message: String },

    /// NVRTC refused a kernel; the log says why.
    #[error("NVRTC could not compile {kernel} for {arch}: {log}")]
    Compile {
        kernel: String,
        arch: String,
        log: String,
    },

    /// A wgpu call failed.
    #[error("wgpu error in {context}: {message}")]
    Wgpu { context: String, message: String },

    /// Reading or writing a file failed.
    #[error("{path}: {message}")]
    Io { path: String, message: String },
}

/// Result with the crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// Shorthand for [`Error::Invalid`].
    pub fn invalid(what: impl Into<String>, reason: impl Into<String>) -> Self {
        Error::Invalid {
            what: what.into(),
            reason: reason.into(),
        }
    }

    /// Shorthand for [`Error::Io`].
    pub fn io(path: impl AsRef<std::path::Path>, message: impl std::fmt::Display) -> Self {
        Error::Io {
            path: path.as_ref().display().to_string(),
            message: message.to_string(),
        }
    }
}
