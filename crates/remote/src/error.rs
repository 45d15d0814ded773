//! The one error type of esteira-remote, and how object_store's errors map onto it.

use std::error::Error as StdError;
use std::path::PathBuf;

use esteira_core::CoreError;

/// A boxed error from the object store client.
pub type BoxError = Box<dyn StdError + Send + Sync + 'static>;

/// Everything that can go wrong talking to a remote.
///
/// The classes a caller acts on: [`RemoteError::is_unavailable`] (the remote cannot be reached
/// or keeps failing after the bounded retries: continue with the local store only, with a
/// warning), [`RemoteError::Denied`] (credentials or permissions: a configuration problem),
/// [`RemoteError::Corrupt`] and [`RemoteError::InvalidRecord`] (that one object or record is
/// not used: a cache miss), everything else an error of the operation.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RemoteError {
    /// The remote URL or the S3 settings are unusable (bad URL, unknown setting, no bucket).
    #[error("remote {url}: {message}")]
    Config {
        /// The remote URL as given.
        url: String,
        /// What is wrong.
        message: String,
    },
    /// The remote could not be reached, or answered with server errors (5xx, 429, timeouts)
    /// until the retries ran out.
    #[error("remote unavailable: {op}: {source}")]
    Unavailable {
        /// What was being done (`GET objects/ab/abcd…`).
        op: String,
        /// The last error.
        source: BoxError,
    },
    /// The remote refused the credentials or the operation (401, 403).
    #[error(
        "remote refused {op} (check AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY and the bucket's permissions): {source}"
    )]
    Denied {
        /// What was being done.
        op: String,
        /// The remote's answer.
        source: BoxError,
    },
    /// A remote object's bytes do not match its name (hash or size): it was not used.
    #[error("remote object {hash} is corrupt: {reason}")]
    Corrupt {
        /// The hash the object is stored under.
        hash: String,
        /// What does not match.
        reason: String,
    },
    /// A remote cache or run record cannot be used: unreadable, or not the record of its key.
    #[error("remote record {location}: {reason}")]
    InvalidRecord {
        /// The record's key in the bucket.
        location: String,
        /// What is wrong with it.
        reason: String,
    },
    /// Something asked for is not in the remote (an object, a run).
    #[error("{what} is not in the remote")]
    NotFound {
        /// What is missing.
        what: String,
    },
    /// An upload finished but the object the remote now holds is not the one sent.
    #[error("upload of object {hash} not verified: {reason}")]
    Unverified {
        /// The object.
        hash: String,
        /// What the remote reports instead.
        reason: String,
    },
    /// Any other error of the object store client (a 4xx other than 401/403/404/412, …).
    #[error("remote {op}: {source}")]
    Remote {
        /// What was being done.
        op: String,
        /// The client's error.
        source: BoxError,
    },
    /// The local store failed.
    #[error(transparent)]
    Local(#[from] CoreError),
    /// A local file operation failed.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
}

impl RemoteError {
    /// True when the remote is unreachable or failing (after retries): the caller should carry
    /// on with the local store only, with a warning.
    pub fn is_unavailable(&self) -> bool {
        matches!(self, Self::Unavailable { .. })
    }

    /// A local I/O error on `path`.
    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Self::Io { path: path.into(), source }
    }

    /// Maps an object_store error of operation `op` onto a class.
    ///
    /// `NotFound`, `AlreadyExists` and `Precondition` are handled by the callers (they are
    /// answers, not failures); here they become [`RemoteError::Remote`].
    pub(crate) fn from_store(op: impl Into<String>, e: object_store::Error) -> Self {
        let op = op.into();
        let denied =
            matches!(e, object_store::Error::PermissionDenied { .. } | object_store::Error::Unauthenticated { .. })
                || matches!(status(&e), Some(401 | 403));
        if denied {
            Self::Denied { op, source: Box::new(e) }
        } else if is_transient(&e) {
            Self::Unavailable { op, source: Box::new(e) }
        } else {
            Self::Remote { op, source: Box::new(e) }
        }
    }
}

/// The HTTP status of the final answer, when the error chain has one.
///
/// object_store does not export its `RetryError`, and maps statuses onto its error variants
/// only for some requests (a refused LIST is `Generic`), so the status is read from the
/// message of its `RequestError`: "Server returned non-2xx status code: 503 …".
pub(crate) fn status(e: &(dyn StdError + 'static)) -> Option<u16> {
    let mut current = Some(e);
    while let Some(err) = current {
        if let Some(rest) = err.to_string().split("non-2xx status code: ").nth(1) {
            let code: String = rest.chars().take_while(char::is_ascii_digit).collect();
            if let Ok(code) = code.parse::<u16>() {
                return Some(code);
            }
        }
        current = err.source();
    }
    None
}

/// Whether an error (after object_store's own retries) means the remote is down or failing:
/// a transport error anywhere in the chain (connect, timeout, reset: `HttpError`, which is
/// exported and matched by type), S3's 200-with-an-error body ("Server returned error
/// response"), or a final answer of 5xx, 429 or 408.
fn is_transient(e: &(dyn StdError + 'static)) -> bool {
    let mut current = Some(e);
    while let Some(err) = current {
        if err.downcast_ref::<object_store::client::HttpError>().is_some()
            || err.to_string().starts_with("Server returned error response")
        {
            return true;
        }
        current = err.source();
    }
    matches!(status(e), Some(code) if code >= 500 || code == 429 || code == 408)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, thiserror::Error)]
    #[error("Server returned non-2xx status code: {0} Whatever: <Error/>")]
    struct Status(u16);

    fn generic(source: BoxError) -> object_store::Error {
        object_store::Error::Generic { store: "S3", source }
    }

    #[test]
    fn statuses_are_classified() {
        for (code, transient) in [(503, true), (500, true), (429, true), (408, true), (400, false), (409, false)] {
            let e = RemoteError::from_store("GET x", generic(Box::new(Status(code))));
            assert_eq!(e.is_unavailable(), transient, "{code}: {e}");
        }
    }

    #[test]
    fn denied_and_other_errors_are_not_unavailable() {
        let e = RemoteError::from_store(
            "GET x",
            object_store::Error::PermissionDenied { path: "x".into(), source: Box::new(Status(403)) },
        );
        assert!(matches!(e, RemoteError::Denied { .. }), "{e}");
        let e = RemoteError::from_store("LIST x", generic(Box::new(Status(403))));
        assert!(matches!(e, RemoteError::Denied { .. }), "{e}");
        let e = RemoteError::from_store("GET x", generic("something else".into()));
        assert!(matches!(e, RemoteError::Remote { .. }), "{e}");
    }
}
