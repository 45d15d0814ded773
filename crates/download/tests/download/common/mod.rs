//! A small, fully controllable HTTP/1.1 server on 127.0.0.1 for the fetch tests.
//!
//! Every connection serves one request and closes, so each request is numbered (from 0) and the
//! handler decides per request what the server does: answer, cut the body short, stall.

pub mod ufrn_merge;

use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// A request as the server saw it.
#[derive(Debug, Clone)]
pub struct Request {
    pub method: String,
    pub path: String,
    /// Lowercased names.
    pub headers: Vec<(String, String)>,
}

impl Request {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str())
    }
}

/// What to do with one request.
#[derive(Debug, Clone)]
pub struct Reply {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    /// The declared Content-Length (default: the body's length).
    pub content_length: Option<u64>,
    /// Send only this many body bytes, then close the connection.
    pub cut_after: Option<usize>,
    /// Wait before sending anything.
    pub delay: Duration,
    /// After the (possibly cut) body, hold the connection open this long before closing.
    pub stall: Duration,
}

impl Reply {
    pub fn new(status: u16, body: impl Into<Vec<u8>>) -> Self {
        Self {
            status,
            headers: Vec::new(),
            body: body.into(),
            content_length: None,
            cut_after: None,
            delay: Duration::ZERO,
            stall: Duration::ZERO,
        }
    }

    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.to_owned(), value.to_owned()));
        self
    }

    pub fn cut_after(mut self, n: usize) -> Self {
        self.cut_after = Some(n);
        self
    }

    pub fn content_length(mut self, n: u64) -> Self {
        self.content_length = Some(n);
        self
    }

    pub fn delay(mut self, d: Duration) -> Self {
        self.delay = d;
        self
    }

    pub fn stall(mut self, d: Duration) -> Self {
        self.stall = d;
        self
    }
}

type Handler = dyn Fn(usize, &Request) -> Reply + Send + Sync;

pub struct TestServer {
    pub url: String,
    requests: Arc<Mutex<Vec<Request>>>,
}

impl TestServer {
    /// Starts a server answering with `handler(request number, request)`.
    pub fn start(handler: impl Fn(usize, &Request) -> Reply + Send + Sync + 'static) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}/data.csv", listener.local_addr().unwrap());
        let requests = Arc::new(Mutex::new(Vec::new()));
        let handler: Arc<Handler> = Arc::new(handler);
        let counter = Arc::new(AtomicUsize::new(0));
        let reqs = Arc::clone(&requests);
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(stream) = stream else { continue };
                let handler = Arc::clone(&handler);
                let reqs = Arc::clone(&reqs);
                let counter = Arc::clone(&counter);
                std::thread::spawn(move || serve(stream, &*handler, &reqs, &counter));
            }
        });
        Self { url, requests }
    }

    /// The requests received so far.
    pub fn requests(&self) -> Vec<Request> {
        self.requests.lock().unwrap().clone()
    }
}

fn serve(stream: TcpStream, handler: &Handler, reqs: &Mutex<Vec<Request>>, counter: &AtomicUsize) {
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut line = String::new();
    if reader.read_line(&mut line).unwrap_or(0) == 0 {
        return;
    }
    let mut parts = line.split_whitespace();
    let method = parts.next().unwrap_or("").to_owned();
    let path = parts.next().unwrap_or("").to_owned();
    let mut headers = Vec::new();
    loop {
        let mut h = String::new();
        if reader.read_line(&mut h).unwrap_or(0) == 0 || h.trim().is_empty() {
            break;
        }
        if let Some((n, v)) = h.split_once(':') {
            headers.push((n.trim().to_ascii_lowercase(), v.trim().to_owned()));
        }
    }
    let request = Request { method, path, headers };
    let n = counter.fetch_add(1, Ordering::SeqCst);
    reqs.lock().unwrap().push(request.clone());
    let reply = handler(n, &request);
    std::thread::sleep(reply.delay);
    let mut out = stream;
    let mut head = format!("HTTP/1.1 {} {}\r\n", reply.status, reason(reply.status));
    let len = reply.content_length.unwrap_or(reply.body.len() as u64);
    if reply.status != 304 {
        head.push_str(&format!("Content-Length: {len}\r\n"));
    }
    for (n, v) in &reply.headers {
        head.push_str(&format!("{n}: {v}\r\n"));
    }
    head.push_str("Connection: close\r\n\r\n");
    if out.write_all(head.as_bytes()).is_err() {
        return;
    }
    let body = match reply.cut_after {
        Some(k) => &reply.body[..k.min(reply.body.len())],
        None => &reply.body[..],
    };
    let _ = out.write_all(body);
    let _ = out.flush();
    std::thread::sleep(reply.stall);
    let _ = out.shutdown(std::net::Shutdown::Both);
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        206 => "Partial Content",
        304 => "Not Modified",
        404 => "Not Found",
        429 => "Too Many Requests",
        500 => "Internal Server Error",
        503 => "Service Unavailable",
        _ => "Whatever",
    }
}

/// A deterministic body of `n` bytes that is not all the same byte.
pub fn body(n: usize) -> Vec<u8> {
    (0..n).map(|i| (i * 31 % 251) as u8).collect()
}

/// Serves `full` honouring `Range: bytes=N-` with a 206.
pub fn ranged(full: &[u8], req: &Request, etag: &str) -> Reply {
    if let Some(range) = req.header("range") {
        let start: usize = range.trim_start_matches("bytes=").trim_end_matches('-').parse().unwrap();
        return Reply::new(206, full[start..].to_vec())
            .header("Content-Range", &format!("bytes {start}-{}/{}", full.len() - 1, full.len()))
            .header("ETag", etag)
            .header("Accept-Ranges", "bytes");
    }
    Reply::new(200, full.to_vec()).header("ETag", etag).header("Accept-Ranges", "bytes")
}
