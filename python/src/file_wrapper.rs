//! `wsgi.file_wrapper` (PEP 3333's optional platform-specific file handling), and finding it
//! behind `wsgiref.validate`'s wrapper.

use std::io;

use basehttp::Response;
use pyo3::intern;
use pyo3::prelude::*;
use pyo3::types::PyString;

/// `wsgi.file_wrapper` (PEP 3333's optional platform-specific file handling): iterated, it
/// reads `filelike.read(blksize)` until the file ends; returned as the response over a
/// regular file, the server sends the file itself, zero-copy, and calls `close()` at once.
#[pyclass(module = "basehttp._native")]
pub struct FileWrapper {
    /// The file-like object given.
    #[pyo3(get)]
    filelike: Py<PyAny>,
    /// The size of each `read` when iterated.
    #[pyo3(get)]
    blksize: usize,
}

#[pymethods]
impl FileWrapper {
    #[new]
    #[pyo3(signature = (filelike, blksize=8192))]
    fn new(filelike: Py<PyAny>, blksize: usize) -> FileWrapper {
        FileWrapper { filelike, blksize }
    }

    fn __iter__(slf: PyRef<'_, Self>) -> PyRef<'_, Self> {
        slf
    }

    fn __next__<'py>(&self, py: Python<'py>) -> PyResult<Option<Bound<'py, PyAny>>> {
        let data = self
            .filelike
            .bind(py)
            .call_method1(intern!(py, "read"), (self.blksize,))?;
        Ok(data.is_truthy()?.then_some(data))
    }

    /// Closes the file-like object, if it has a `close()`.
    fn close(&self, py: Python<'_>) -> PyResult<()> {
        if let Some(close) = self.filelike.bind(py).getattr_opt(intern!(py, "close"))? {
            close.call0()?;
        }
        Ok(())
    }
}

impl FileWrapper {
    /// The file as a response body of `declared` bytes (else the rest of the file) from
    /// where the application left it, if `filelike` is a regular file with a descriptor;
    /// `None` to iterate it instead (no `fileno()` or `tell()`, not a regular file, or a
    /// declared length past its end, which the iterated path sends short and closes).
    ///
    /// Without `unsafe` a Python descriptor cannot become a Rust `File`, so the file is
    /// opened again through `/proc/self/fd` (Linux): the same file, even if renamed or
    /// deleted since, with a position of its own.
    pub fn regular_file(
        &self,
        py: Python<'_>,
        declared: Option<u64>,
    ) -> PyResult<Option<Response>> {
        if !cfg!(target_os = "linux") {
            return Ok(None);
        }
        let filelike = self.filelike.bind(py);
        let fd = match filelike.call_method0(intern!(py, "fileno")) {
            Ok(fd) => fd.extract::<i32>().ok().filter(|fd| *fd >= 0),
            Err(_) => None,
        };
        let Some(fd) = fd else { return Ok(None) };
        let Some(pos) = filelike
            .call_method0(intern!(py, "tell"))
            .ok()
            .and_then(|p| p.extract::<u64>().ok())
        else {
            return Ok(None);
        };
        let opened = py.detach(|| -> io::Result<Option<(std::fs::File, u64)>> {
            let mut file = std::fs::File::open(format!("/proc/self/fd/{fd}"))?;
            let meta = file.metadata()?;
            let left = meta.len().saturating_sub(pos);
            let len = declared.unwrap_or(left);
            if !meta.is_file() || len > left {
                return Ok(None);
            }
            io::Seek::seek(&mut file, io::SeekFrom::Start(pos))?;
            Ok(Some((file, len)))
        });
        Ok(match opened {
            Ok(Some((file, len))) => Some(Response::file_part(file, len)),
            _ => None,
        })
    }
}

/// The [`FileWrapper`] an application returned, also through `wsgiref.validate`'s
/// `IteratorWrapper` (its checks are on iteration, which a file sent whole skips; its
/// `close()` is the one called), so an application under the validator is served as it
/// would be without.
pub fn file_wrapper_of<'py>(result: &Bound<'py, PyAny>) -> Option<Bound<'py, FileWrapper>> {
    if let Ok(wrapper) = result.cast::<FileWrapper>() {
        return Some(wrapper.clone());
    }
    let py = result.py();
    let ty = result.get_type();
    let is = |name: PyResult<Bound<'_, PyString>>, want: &str| name.is_ok_and(|n| n == want);
    if is(ty.name(), "IteratorWrapper") && is(ty.module(), "wsgiref.validate") {
        let inner = result.getattr(intern!(py, "original_iterator")).ok()?;
        return inner.cast_into::<FileWrapper>().ok();
    }
    None
}
