//! Serving a directory: the [`StaticFiles`] handler (issue 3).
//!
//! This module owns the mapping from a request to a file under the root and the answer for
//! it: files with validators and ranges, directory redirects, index files, listings, CORS and
//! the single-page-application fallback. It never writes to sockets (files leave through
//! [`Response`], spliced zero-copy on Linux when large) and never reads a file whole into
//! memory.
//!
//! Submodules, pure and unit-tested: `path` (decoding and safety), `range` (validators and
//! ranges), `mime` (types by extension), `listing` (the directory page).

mod listing;
mod mime;
mod path;
mod range;

use std::borrow::Cow;
use std::fs::{File, Metadata};
use std::io::{self, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::time::UNIX_EPOCH;

use crate::handler::{BodyPolicy, Handler};
use crate::http1::encode::reason_phrase;
use crate::http1::lex::is_token_byte;
use crate::request::{Request, RequestHead};
use crate::response::Response;
use range::ByteRange;

/// The index file looked for in a directory unless [`StaticFilesBuilder::index`] says
/// otherwise.
pub const DEFAULT_INDEX: &str = "index.html";

/// A [`Handler`] that serves the files under a directory, for local development: what
/// `python -m http.server` does, with validators, ranges, and no way out of the root.
///
/// - `GET` and `HEAD` serve files with a `Content-Type` from the extension, `Content-Length`,
///   `Last-Modified`, a strong `ETag` (from the size and the modification time, in
///   nanoseconds), `Cache-Control: no-cache` (the browser revalidates every time, so an edit
///   shows on reload, and gets a `304` when nothing changed) and `Accept-Ranges: bytes`.
/// - `If-None-Match` and `If-Modified-Since` answer `304`; a single `Range` answers `206`,
///   one past the end `416`; `If-Range` is honoured; several ranges get the whole file.
/// - A directory URL without its trailing slash is redirected (`301`, query kept,
///   `Cache-Control: no-store`). A directory serves its index file, else an HTML listing
///   (unless turned off: `403`) with `Cache-Control: no-cache` and a strong `ETag` that is a
///   hash of the page, so `If-None-Match` answers `304` while the listing is unchanged.
/// - Other methods get `405` with `Allow`; with [`cors`](StaticFilesBuilder::cors), `OPTIONS`
///   is answered (preflight included) and every response allows any origin.
/// - The path is percent-decoded once and normalised; `..`, encoded separators, backslashes
///   and NUL are refused with `403`; symlinks are followed only while they stay inside the
///   root (`403` otherwise). **Dotfiles**: any path segment starting with `.` is hidden (`404`,
///   and left out of listings) unless [`hidden`](StaticFilesBuilder::hidden) is set, so
///   `.git/` and `.env` are not served by accident.
/// - Errors are small HTML pages.
///
/// ```
/// use std::io::{Read, Write};
/// use basehttp::{Server, StaticFiles};
///
/// let dir = std::env::temp_dir().join(format!("basehttp-doc-{}", std::process::id()));
/// std::fs::create_dir_all(&dir)?;
/// std::fs::write(dir.join("hello.txt"), "Hello, file!")?;
///
/// let server = Server::bind("127.0.0.1:0")?.spawn(StaticFiles::new(&dir)?)?;
/// let mut client = std::net::TcpStream::connect(server.local_addr())?;
/// client.write_all(b"GET /hello.txt HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")?;
/// let mut answer = String::new();
/// client.read_to_string(&mut answer)?;
/// assert!(answer.starts_with("HTTP/1.1 200 OK\r\n"));
/// assert!(answer.contains("Content-Type: text/plain; charset=utf-8\r\n"));
/// assert!(answer.ends_with("\r\n\r\nHello, file!"));
/// server.shutdown();
/// # std::fs::remove_dir_all(&dir)?;
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Debug)]
pub struct StaticFiles {
    /// The root, canonical (absolute, no symlinks): what every opened file must be under.
    root: PathBuf,
    root_bytes: Vec<u8>,
    index: String,
    listing: bool,
    hidden: bool,
    cors: bool,
    spa: bool,
    headers: Vec<(String, String)>,
    /// An extra header replaces the default `Cache-Control`s.
    custom_cache_control: bool,
    /// A tag put into the HTML documents a browser navigates to ([`StaticFilesBuilder::inject`]).
    inject: Option<String>,
}

/// Options for [`StaticFiles`], from [`StaticFiles::builder`].
///
/// ```
/// use basehttp::StaticFiles;
/// let files = StaticFiles::builder(".")
///     .index("index.htm")
///     .listing(false)
///     .hidden(false)
///     .cors(true)
///     .spa(true)
///     .header("X-Frame-Options", "DENY")
///     .build()?;
/// assert!(files.root().is_absolute());
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct StaticFilesBuilder {
    root: PathBuf,
    index: String,
    listing: bool,
    hidden: bool,
    cors: bool,
    spa: bool,
    headers: Vec<(String, String)>,
    inject: Option<String>,
}

impl StaticFiles {
    /// Serves `root` with the default options: index `index.html`, listings on, dotfiles
    /// hidden, no CORS, no SPA fallback. Fails if `root` is not a readable directory.
    ///
    /// ```
    /// use basehttp::StaticFiles;
    /// let files = StaticFiles::new(std::env::temp_dir())?;
    /// assert_eq!(files.root(), std::fs::canonicalize(std::env::temp_dir())?);
    /// assert!(StaticFiles::new("/no/such/directory").is_err());
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn new(root: impl Into<PathBuf>) -> io::Result<StaticFiles> {
        StaticFiles::builder(root).build()
    }

    /// Starts a builder for `root` with the default options.
    pub fn builder(root: impl Into<PathBuf>) -> StaticFilesBuilder {
        StaticFilesBuilder {
            root: root.into(),
            index: DEFAULT_INDEX.to_string(),
            listing: true,
            hidden: false,
            cors: false,
            spa: false,
            headers: Vec::new(),
            inject: None,
        }
    }

    /// The directory served, canonical (absolute, symlinks resolved).
    pub fn root(&self) -> &Path {
        &self.root
    }
}

impl StaticFilesBuilder {
    /// The file served for a directory URL when present (default `index.html`). It must be a
    /// plain file name, checked by [`build`](Self::build).
    pub fn index(mut self, name: impl Into<String>) -> StaticFilesBuilder {
        self.index = name.into();
        self
    }

    /// Whether a directory without an index file is listed (default `true`; else `403`).
    pub fn listing(mut self, on: bool) -> StaticFilesBuilder {
        self.listing = on;
        self
    }

    /// Whether names starting with `.` are served and listed (default `false`: `404`).
    pub fn hidden(mut self, on: bool) -> StaticFilesBuilder {
        self.hidden = on;
        self
    }

    /// Whether any origin may read the files: `Access-Control-Allow-Origin: *` on every
    /// response, and `OPTIONS` (CORS preflight) answered with `204` (default `false`).
    pub fn cors(mut self, on: bool) -> StaticFilesBuilder {
        self.cors = on;
        self
    }

    /// Whether a missing path falls back to the root's index file, for single-page
    /// applications with client-side routes, when the request accepts `text/html` (a
    /// browser navigating; a missing script or image still gets `404`). Default `false`.
    pub fn spa(mut self, on: bool) -> StaticFilesBuilder {
        self.spa = on;
        self
    }

    /// Adds a header to every response (repeatable). One named `Cache-Control` replaces the
    /// defaults (`no-cache`, and `no-store` on the slash redirect). [`build`](Self::build) refuses a name that is not a token and a
    /// value with CR, LF or NUL.
    pub fn header(
        mut self,
        name: impl Into<String>,
        value: impl Into<String>,
    ) -> StaticFilesBuilder {
        self.headers.push((name.into(), value.into()));
        self
    }

    /// Puts `tag` (live reload's `<script>`, say) into every HTML document a browser
    /// navigates to (`Sec-Fetch-Dest: document`; a fragment fetched by a script is left
    /// alone): before the last `</body>`, else before the last `</head>`, else at the end, and
    /// not if the document has it already. Such a response is built in memory (documents up
    /// to 4 MiB; a larger one is served as it is), its `ETag` covers the injection (a `-i`
    /// before the closing quote), it offers no `Range`, `HEAD` gives the same length as
    /// `GET`, and `Vary: Sec-Fetch-Dest` tells caches the two versions apart.
    ///
    /// ```
    /// use basehttp::StaticFiles;
    /// let files = StaticFiles::builder(std::env::temp_dir())
    ///     .inject("<script src=\"/__basehttp/reload.js\"></script>")
    ///     .build()?;
    /// # drop(files);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn inject(mut self, tag: impl Into<String>) -> StaticFilesBuilder {
        self.inject = Some(tag.into());
        self
    }

    /// Checks the options and resolves the root. Errors: the root does not exist or is not
    /// a directory, or (`InvalidInput`) the index name or an extra header is invalid.
    pub fn build(self) -> io::Result<StaticFiles> {
        let invalid = |what: String| io::Error::new(io::ErrorKind::InvalidInput, what);
        let index = self.index;
        if index.is_empty() || index == "." || index == ".." || index.contains(['/', '\\', '\0']) {
            return Err(invalid(format!("the index \"{index}\" is not a file name")));
        }
        for (name, value) in &self.headers {
            if name.is_empty() || !name.bytes().all(is_token_byte) {
                return Err(invalid(format!("\"{name}\" is not a valid header name")));
            }
            if value.contains(['\r', '\n', '\0']) {
                return Err(invalid(format!(
                    "the value of {name} has a line break or NUL"
                )));
            }
        }
        let root = std::fs::canonicalize(&self.root)
            .map_err(|e| io::Error::new(e.kind(), format!("{}: {e}", self.root.display())))?;
        if !std::fs::metadata(&root)?.is_dir() {
            return Err(io::Error::new(
                io::ErrorKind::NotADirectory,
                format!("{} is not a directory", root.display()),
            ));
        }
        let root_bytes = path_bytes(&root)
            .ok_or_else(|| invalid(format!("{} is not valid UTF-8", root.display())))?
            .to_vec();
        let custom_cache_control = self
            .headers
            .iter()
            .any(|(n, _)| n.eq_ignore_ascii_case("cache-control"));
        Ok(StaticFiles {
            root,
            root_bytes,
            index,
            listing: self.listing,
            hidden: self.hidden,
            cors: self.cors,
            spa: self.spa,
            headers: self.headers,
            custom_cache_control,
            inject: self.inject,
        })
    }
}

impl Handler for StaticFiles {
    /// Files are only read, never written, so a body is never wanted: a method other than
    /// `GET`, `HEAD` (or `OPTIONS` with CORS) is answered `405` before any of its body is
    /// read (no `100 Continue`, no wait on a slow upload); a `GET` that carries a body has it
    /// drained after the response, within `max_drain`, as before.
    fn body_policy(&self, head: &RequestHead<'_>) -> BodyPolicy {
        match head.method() {
            "GET" | "HEAD" => BodyPolicy::Stream,
            "OPTIONS" if self.cors => BodyPolicy::Stream,
            _ => BodyPolicy::Refuse(error_page(405).with_header("Allow", self.allow())),
        }
    }

    fn handle(&self, req: &mut Request<'_>) -> Response {
        let mut res = self.answer(req);
        if self.cors {
            res = res
                .with_header("Access-Control-Allow-Origin", "*")
                .with_header(
                    "Access-Control-Expose-Headers",
                    "Content-Range, Accept-Ranges, ETag, Last-Modified",
                );
        }
        for (name, value) in &self.headers {
            res = res.with_header(name.clone(), value.clone());
        }
        res
    }
}

/// Why opening a path under the root did not give a file or a directory.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum OpenError {
    /// Absent (or not reachable as named): `404`, or the SPA fallback.
    NotFound,
    /// A status to answer as it is: `403` (permissions, a symlink out of the root, a device
    /// or FIFO), `500`, `503`.
    Status(u16),
}

impl StaticFiles {
    fn answer(&self, req: &mut Request<'_>) -> Response {
        match req.method() {
            "GET" | "HEAD" => {}
            "OPTIONS" if self.cors => return self.options(req),
            _ => return error_page(405).with_header("Allow", self.allow()),
        }
        let request_path = req.path();
        let mut full =
            Vec::with_capacity(self.root_bytes.len() + request_path.len() + self.index.len() + 2);
        full.extend_from_slice(&self.root_bytes);
        let resolved = match path::resolve(request_path, self.hidden, &mut full) {
            Ok(resolved) => resolved,
            Err(refusal) => return error_page(refusal.status()),
        };
        match self.open(&full) {
            Ok((file, meta)) if meta.is_dir() => {
                drop(file);
                self.directory(req, full, resolved)
            }
            // `/file.txt/` names a directory that is not there (as nginx and Apache answer).
            Ok(_) if resolved.trailing_slash => self.not_found(req),
            Ok((file, meta)) => self.file(req, file, &meta, mime::content_type(&full)),
            Err(OpenError::NotFound) => self.not_found(req),
            Err(OpenError::Status(status)) => error_page(status),
        }
    }

    /// `Allow` for a `405`: what this handler answers.
    fn allow(&self) -> &'static str {
        if self.cors {
            "GET, HEAD, OPTIONS"
        } else {
            "GET, HEAD"
        }
    }

    /// `OPTIONS` with CORS on: `204`, with the preflight answer when it is one (Fetch
    /// standard, "CORS-preflight fetch").
    fn options(&self, req: &Request<'_>) -> Response {
        let mut res = Response::new(204).with_header("Allow", self.allow());
        if req.header_bytes("access-control-request-method").is_some() {
            res = res
                .with_header("Access-Control-Allow-Methods", "GET, HEAD, OPTIONS")
                .with_header("Access-Control-Max-Age", "86400");
            if let Some(asked) = req.header("access-control-request-headers") {
                res = res.with_header("Access-Control-Allow-Headers", asked.to_string());
            }
        }
        res
    }

    /// Opens `full` (the root and the resolved path) for reading and checks it: a regular
    /// file or a directory, inside the root after symlinks.
    ///
    /// The check costs one `readlink` (16% of the CPU time of a 1 KiB response, measured with
    /// perf), so it is skipped where it cannot fail: a name directly under the root, which is
    /// canonical, opened with `O_NOFOLLOW` is inside. Deeper paths, and a last component
    /// that is a symlink, take the check.
    fn open(&self, full: &[u8]) -> Result<(File, Metadata), OpenError> {
        let Some(path) = bytes_path(full) else {
            return Err(OpenError::NotFound);
        };
        let relative = &full[self.root_bytes.len()..];
        let shallow = relative.iter().filter(|&&b| b == b'/').count() <= 1;
        if shallow && OPEN_FLAGS.is_some() {
            match open_file(path, true) {
                Ok(file) => return self.checked(file, path, false),
                Err(e) if e.raw_os_error() == Some(ELOOP) => {}
                Err(e) => return Err(open_error(e)),
            }
        }
        let file = open_file(path, false).map_err(open_error)?;
        self.checked(file, path, true)
    }

    /// The `fstat` of an opened file: a regular file or a directory, and (when `verify`)
    /// inside the root after symlinks.
    fn checked(
        &self,
        file: File,
        path: &Path,
        verify: bool,
    ) -> Result<(File, Metadata), OpenError> {
        let meta = file.metadata().map_err(open_error)?;
        if !meta.is_file() && !meta.is_dir() {
            return Err(OpenError::Status(403));
        }
        if verify && !self.inside_root(&file, path) {
            log::debug!("refused {}: it resolves outside the root", path.display());
            return Err(OpenError::Status(403));
        }
        Ok((file, meta))
    }

    /// Whether the opened `file` really is under the root, symlinks resolved.
    ///
    /// On Linux the kernel says where the descriptor points (`/proc/self/fd/N`): one
    /// `readlink` per request, on the file actually opened, so a symlink swapped in between a
    /// check and the `open` cannot slip through. Elsewhere the path is canonicalized (a few
    /// syscalls per segment, and racy in that way).
    fn inside_root(&self, file: &File, path: &Path) -> bool {
        #[cfg(target_os = "linux")]
        {
            use std::io::Write;
            use std::os::fd::AsRawFd;
            let mut buf = [0u8; 40];
            let mut cursor = &mut buf[..];
            if write!(cursor, "/proc/self/fd/{}", file.as_raw_fd()).is_ok() {
                let written = 40 - cursor.len();
                if let Ok(link) = std::str::from_utf8(&buf[..written])
                    && let Ok(real) = std::fs::read_link(link)
                {
                    return real.starts_with(&self.root);
                }
            }
        }
        let _ = file;
        std::fs::canonicalize(path).is_ok_and(|real| real.starts_with(&self.root))
    }

    /// A directory: redirect to the slashed URL, else its index file, else a listing.
    fn directory(
        &self,
        req: &Request<'_>,
        mut full: Vec<u8>,
        resolved: path::Resolved,
    ) -> Response {
        let relative = &full[self.root_bytes.len()..];
        if !resolved.trailing_slash {
            // Built from the decoded segments, re-encoded: never `//host` (an open redirect).
            let mut location = String::with_capacity(relative.len() * 3 + 2);
            for segment in relative.split(|&b| b == b'/').filter(|s| !s.is_empty()) {
                location.push('/');
                path::encode_segment(segment, &mut location);
            }
            location.push('/');
            if let Some(query) = req.query() {
                location.push('?');
                location.push_str(query);
            }
            // Never stored: the same address may be a file, a route of `--spa` or another
            // directory's server tomorrow, and a browser keeps a `301` without freshness
            // information for as long as it likes (`no-cache` would mean the same for a
            // response without a validator, and REDbot warns on it).
            return self.cache_control(
                error_page(301).with_header("Location", location),
                "no-store",
            );
        }
        let dir_len = full.len();
        full.push(b'/');
        full.extend_from_slice(self.index.as_bytes());
        match self.open(&full) {
            Ok((file, meta)) if meta.is_file() => {
                return self.file(req, file, &meta, mime::content_type(self.index.as_bytes()));
            }
            Ok(_) | Err(OpenError::NotFound) => {}
            Err(OpenError::Status(status)) => return error_page(status),
        }
        full.truncate(dir_len);
        if !self.listing {
            return error_page(403);
        }
        let url_path = full[self.root_bytes.len()..]
            .strip_prefix(b"/")
            .unwrap_or_default();
        let Some(dir) = bytes_path(&full) else {
            return error_page(404);
        };
        match listing::render(dir, url_path, self.hidden, &self.root) {
            Ok(html) => self.listing(req, html),
            Err(e) => {
                log::debug!("cannot list {}: {e}", dir.display());
                error_page(status_of(&e))
            }
        }
    }

    /// A rendered listing, with a strong `ETag` that is a hash of the page: `304` when
    /// `If-None-Match` has it. (The directory's modification time would not do: the page also
    /// shows its entries' sizes and times, which change without it.) There is no
    /// `Last-Modified`, so `If-Modified-Since` is not consulted.
    fn listing(&self, req: &Request<'_>, html: String) -> Response {
        let etag = listing::etag(&html);
        let res = match req.header_bytes("if-none-match") {
            Some(list) if range::any_etag_matches(list, &etag) => Response::new(304),
            _ => Response::html(html),
        };
        self.no_cache(res.with_header("ETag", etag))
    }

    /// An HTML document a browser navigates to, with the injected tag: `304` or `200` by its
    /// validators; `None` to serve the file as it is (no tag to inject, not a navigation, too
    /// large, unreadable, or the tag is in it already).
    fn injected(
        &self,
        req: &Request<'_>,
        file: &mut File,
        len: u64,
        content_type: &'static str,
        (etag, secs, last_modified): (&str, u64, &str),
    ) -> Option<Response> {
        let tag = self.inject.as_ref()?;
        let navigation = req
            .header("sec-fetch-dest")
            .is_some_and(|d| d.eq_ignore_ascii_case("document"));
        if !content_type.starts_with("text/html")
            || !navigation
            || len > crate::html_inject::MAX_INJECTED
        {
            return None;
        }
        let mut html = Vec::with_capacity(len as usize);
        let read = (&mut *file).take(len).read_to_end(&mut html);
        // An extra header's policy that allows scripts by nonce: the script gets it.
        let nonce = self
            .headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case("content-security-policy"))
            .and_then(|(_, v)| crate::html_inject::script_nonce(v));
        let tag = match nonce {
            Some(nonce) => crate::html_inject::with_nonce(tag, nonce),
            None => tag.clone(),
        };
        let Some(body) = read
            .ok()
            .and_then(|_| crate::html_inject::inject(&html, tag.as_bytes()))
        else {
            // Served as it is, from the start.
            file.seek(SeekFrom::Start(0)).ok()?;
            return None;
        };
        let etag = format!("{}-i\"", etag.trim_end_matches('"'));
        let last_modified = last_modified.to_owned();
        let res = if range::not_modified(
            req.header_bytes("if-none-match"),
            req.header_bytes("if-modified-since"),
            &etag,
            secs,
        ) {
            Response::new(304)
        } else {
            Response::bytes(body).with_content_type(content_type)
        };
        Some(self.validators(
            res.with_header("Vary", "Sec-Fetch-Dest"),
            etag,
            last_modified,
        ))
    }

    /// A regular file: `304`, `206`, `416` or `200` by the validators and `Range`.
    fn file(
        &self,
        req: &Request<'_>,
        mut file: File,
        meta: &Metadata,
        content_type: &'static str,
    ) -> Response {
        let len = meta.len();
        let modified = meta
            .modified()
            .ok()
            .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
            .unwrap_or_default();
        let secs = modified.as_secs();
        let etag = format!("\"{:x}.{:x}-{len:x}\"", secs, modified.subsec_nanos());
        let last_modified = crate::date::http_date(secs);
        let last_modified = String::from_utf8_lossy(&last_modified).into_owned();
        let validators = (etag.as_str(), secs, last_modified.as_str());
        if let Some(res) = self.injected(req, &mut file, len, content_type, validators) {
            return res;
        }
        if range::not_modified(
            req.header_bytes("if-none-match"),
            req.header_bytes("if-modified-since"),
            &etag,
            secs,
        ) {
            return self.validators(Response::new(304), etag, last_modified);
        }
        let byte_range = match req.header_bytes("range") {
            Some(value)
                if req
                    .header_bytes("if-range")
                    .is_none_or(|v| range::if_range_holds(v, &etag, secs)) =>
            {
                ByteRange::parse(value, len)
            }
            _ => ByteRange::Whole,
        };
        let res = match byte_range {
            ByteRange::Whole => Response::file_part(file, len),
            ByteRange::Part { start, end } => {
                if let Err(e) = file.seek(SeekFrom::Start(start)) {
                    log::debug!("cannot seek a file: {e}");
                    return error_page(500);
                }
                Response::file_part(file, end - start + 1)
                    .with_status(206)
                    .with_header("Content-Range", format!("bytes {start}-{end}/{len}"))
            }
            ByteRange::Unsatisfiable => {
                return error_page(416).with_header("Content-Range", format!("bytes */{len}"));
            }
        };
        self.validators(res.with_content_type(content_type), etag, last_modified)
            .with_header("Accept-Ranges", "bytes")
    }

    fn validators(&self, res: Response, etag: String, last_modified: String) -> Response {
        self.no_cache(
            res.with_header("Last-Modified", last_modified)
                .with_header("ETag", etag),
        )
    }

    fn no_cache(&self, res: Response) -> Response {
        self.cache_control(res, "no-cache")
    }

    /// `Cache-Control: {value}`, unless an extra header gives one for every response.
    fn cache_control(&self, res: Response, value: &'static str) -> Response {
        if self.custom_cache_control {
            res
        } else {
            res.with_header("Cache-Control", value)
        }
    }

    /// A path that is not there: the root's index for a browser navigating when `spa` is on,
    /// else `404`.
    fn not_found(&self, req: &Request<'_>) -> Response {
        let accepts_html = req
            .header_bytes("accept")
            .is_some_and(|v| v.windows(9).any(|w| w.eq_ignore_ascii_case(b"text/html")));
        if self.spa && accepts_html {
            let mut full = self.root_bytes.clone();
            full.push(b'/');
            full.extend_from_slice(self.index.as_bytes());
            if let Ok((file, meta)) = self.open(&full)
                && meta.is_file()
            {
                return self.file(req, file, &meta, mime::content_type(self.index.as_bytes()));
            }
        }
        error_page(404)
    }
}

/// The `open(2)` flags this module needs, in the Linux ABI of the architectures it knows (std
/// names none of them, and the crate takes no `libc` dependency).
#[derive(Debug, Clone, Copy)]
struct OpenFlags {
    /// `O_NONBLOCK`: a FIFO planted under the root cannot block a worker in `open`. It changes
    /// nothing for regular files and directories.
    nonblock: i32,
    /// `O_NOFOLLOW`: `open` fails with `ELOOP` if the last component is a symlink.
    nofollow: i32,
}

#[cfg(all(
    target_os = "linux",
    any(
        target_arch = "x86",
        target_arch = "x86_64",
        target_arch = "riscv64",
        target_arch = "s390x",
        target_arch = "loongarch64"
    )
))]
const OPEN_FLAGS: Option<OpenFlags> = Some(OpenFlags {
    nonblock: 0o4000,
    nofollow: 0o400000,
});

#[cfg(all(
    target_os = "linux",
    any(
        target_arch = "arm",
        target_arch = "aarch64",
        target_arch = "powerpc64"
    )
))]
const OPEN_FLAGS: Option<OpenFlags> = Some(OpenFlags {
    nonblock: 0o4000,
    nofollow: 0o100000,
});

/// Elsewhere: a `stat` before opening keeps FIFOs out, and every file takes the full check.
#[cfg(not(all(
    target_os = "linux",
    any(
        target_arch = "x86",
        target_arch = "x86_64",
        target_arch = "riscv64",
        target_arch = "s390x",
        target_arch = "loongarch64",
        target_arch = "arm",
        target_arch = "aarch64",
        target_arch = "powerpc64"
    )
)))]
const OPEN_FLAGS: Option<OpenFlags> = None;

/// `ELOOP` on Linux: `O_NOFOLLOW` met a symlink.
const ELOOP: i32 = 40;

/// Opens `path` for reading; with `no_follow`, a symlink as the last component fails with
/// `ELOOP` instead of being followed.
fn open_file(path: &Path, no_follow: bool) -> io::Result<File> {
    #[cfg(target_os = "linux")]
    if let Some(flags) = OPEN_FLAGS {
        use std::os::unix::fs::OpenOptionsExt;
        let custom = flags.nonblock | if no_follow { flags.nofollow } else { 0 };
        return std::fs::OpenOptions::new()
            .read(true)
            .custom_flags(custom)
            .open(path);
    }
    let _ = no_follow;
    let meta = std::fs::metadata(path)?;
    if !meta.is_file() && !meta.is_dir() {
        return Err(io::ErrorKind::PermissionDenied.into());
    }
    File::open(path)
}

fn open_error(e: io::Error) -> OpenError {
    match status_of(&e) {
        404 => OpenError::NotFound,
        status => OpenError::Status(status),
    }
}

/// The status for a failed `open`, `fstat` or `read_dir`.
fn status_of(e: &io::Error) -> u16 {
    match e.kind() {
        io::ErrorKind::NotFound | io::ErrorKind::NotADirectory => 404,
        io::ErrorKind::PermissionDenied => 403,
        _ => match e.raw_os_error() {
            // ENAMETOOLONG and ELOOP (Linux numbering): a name no file can have.
            Some(36 | 40) => 404,
            // ENFILE and EMFILE: out of descriptors, try later.
            Some(23 | 24) => 503,
            _ => {
                log::warn!("static files: {e}");
                500
            }
        },
    }
}

/// A small HTML page for an error status (and the body of a redirect).
fn error_page(status: u16) -> Response {
    let reason = reason_phrase(status);
    let detail = match status {
        301 => "This directory's address ends with a slash.",
        400 => "The request path is not valid percent-encoding.",
        403 => "This path may not be served.",
        404 => "Nothing here matches this address.",
        405 => "This server only reads files.",
        416 => "The requested range starts past the end of the file.",
        503 => "The server is out of file descriptors; try again.",
        _ => "The file could not be read; the server's log says why.",
    };
    let body: Cow<'static, str> = Cow::Owned(format!(
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head><meta charset=\"utf-8\">\
         <title>{status} {reason}</title></head>\n<body style=\"font:15px/1.5 system-ui,\
         sans-serif;margin:3rem auto;max-width:40rem;padding:0 1rem\">\n\
         <h1 style=\"font-size:1.3rem\">{status} {reason}</h1>\n<p>{detail}</p>\n</body>\n</html>\n"
    ));
    let res = Response::html(body).with_status(status);
    if status == 503 {
        res.with_header("Retry-After", "1")
    } else {
        res
    }
}

#[cfg(unix)]
fn path_bytes(path: &Path) -> Option<&[u8]> {
    Some(std::os::unix::ffi::OsStrExt::as_bytes(path.as_os_str()))
}

#[cfg(unix)]
fn bytes_path(bytes: &[u8]) -> Option<&Path> {
    Some(Path::new(
        <std::ffi::OsStr as std::os::unix::ffi::OsStrExt>::from_bytes(bytes),
    ))
}

#[cfg(not(unix))]
fn path_bytes(path: &Path) -> Option<&[u8]> {
    path.to_str().map(str::as_bytes)
}

#[cfg(not(unix))]
fn bytes_path(bytes: &[u8]) -> Option<&Path> {
    std::str::from_utf8(bytes).ok().map(Path::new)
}
