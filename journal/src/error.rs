//! The journal library's one error enum for what `serve` and its parts can fail at. The commands
//! that a person runs by hand (`provision`, `enrol`) report with `anyhow` and context.

use crate::store::StoreError;

/// Why the journal could not start or go on.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("broker link: {0}")]
    Link(#[from] otmetka_link::LinkError),
    #[error("{0}")]
    Config(String),
    #[error("{what}: {source}")]
    Io {
        what: String,
        #[source]
        source: std::io::Error,
    },
    #[error("a task ended by a panic: {0}")]
    TaskDied(String),
    #[error("cannot encode a message: {0}")]
    Json(#[from] serde_json::Error),
}

impl Error {
    /// An I/O error with what was being done.
    pub fn io(what: impl Into<String>) -> impl FnOnce(std::io::Error) -> Error {
        let what = what.into();
        move |source| Error::Io { what, source }
    }
}
