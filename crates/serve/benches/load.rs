//! Load benchmark of `POST /api/predict` (one row) on loopback.
//!
//! The server runs in a child process (this binary with `ESTEIRA_BENCH_SERVER=1`) so its memory
//! can be read from `/proc/<pid>/status`. The load generator is a minimal HTTP/1.1 keep-alive
//! client on raw sockets, so it costs the shared CPUs little. Phases:
//! 1. open loop at `BENCH_RATE` requests/s (default 5000) for `BENCH_SECS` s (default 10):
//!    latency is measured from each request's *scheduled* send time, so a stalled server is
//!    not hidden (no coordinated omission); p50/p90/p99/max;
//! 2. closed loop with `BENCH_CONNS` connections (default 32) for `BENCH_SECS`: throughput;
//! 3. `BENCH_TOTAL` requests (default 1,000,000): VmRSS of the server before and after.
//!
//! `cargo bench -p esteira-serve --bench load` (release). For wrk:
//! `ESTEIRA_BENCH_SERVER=1 target/release/deps/load-* &` prints the port, then
//! `wrk -t2 -c32 -d10s --latency -s crates/serve/benches/predict.lua http://127.0.0.1:PORT/api/predict`.

#![allow(missing_docs)]

#[allow(dead_code)]
#[path = "../tests/serve/fixture.rs"]
mod fixture;

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use esteira_serve::{AppState, Server};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

fn env_num(name: &str, default: u64) -> u64 {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

fn server_main() {
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    rt.block_on(async {
        let f = fixture::store();
        let state = AppState::load(f.store.clone(), None, None).unwrap();
        let server = Server::bind(state, SocketAddr::from(([127, 0, 0, 1], 0))).await.unwrap();
        println!("PORT {}", server.local_addr().port());
        // Stop when the parent closes our stdin.
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        std::thread::spawn(move || {
            let mut buf = String::new();
            let _ = std::io::stdin().read_line(&mut buf);
            let _ = tx.send(());
        });
        let stop = async {
            let _ = rx.await;
        };
        server.run_until(stop).await.unwrap();
        drop(f);
    });
}

/// One keep-alive connection sending a fixed request.
struct Conn {
    stream: TcpStream,
    request: Vec<u8>,
    buf: Vec<u8>,
}

impl Conn {
    async fn open(addr: SocketAddr, request: &[u8]) -> Self {
        let stream = TcpStream::connect(addr).await.unwrap();
        stream.set_nodelay(true).unwrap();
        Self { stream, request: request.to_vec(), buf: Vec::with_capacity(4096) }
    }

    /// Sends the request and reads one response; returns its status.
    async fn round_trip(&mut self) -> u16 {
        self.stream.write_all(&self.request).await.unwrap();
        self.buf.clear();
        let mut chunk = [0u8; 4096];
        loop {
            let n = self.stream.read(&mut chunk).await.unwrap();
            assert!(n > 0, "server closed the connection");
            self.buf.extend_from_slice(&chunk[..n]);
            let Some(end) = self.buf.windows(4).position(|w| w == b"\r\n\r\n") else { continue };
            let head = std::str::from_utf8(&self.buf[..end]).unwrap().to_ascii_lowercase();
            let len: usize =
                head.lines().find_map(|l| l.strip_prefix("content-length:")).map_or(0, |v| v.trim().parse().unwrap());
            if self.buf.len() >= end + 4 + len {
                return head[9..12].parse().unwrap();
            }
        }
    }
}

fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

fn percentile(sorted: &[u64], q: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let i = ((sorted.len() as f64 - 1.0) * q).round() as usize;
    sorted[i] as f64 / 1e6
}

/// Latencies in ns: (from the actual send, from the scheduled send time).
async fn open_loop(addr: SocketAddr, request: &[u8], rate: u64, secs: u64, conns: u64) -> (Vec<u64>, Vec<u64>) {
    let interval = Duration::from_secs_f64(conns as f64 / rate as f64);
    let start = Instant::now() + Duration::from_millis(50);
    let end = start + Duration::from_secs(secs);
    let mut tasks = Vec::new();
    for c in 0..conns {
        let mut conn = Conn::open(addr, request).await;
        tasks.push(tokio::spawn(async move {
            let mut lat = Vec::new();
            // Stagger the connections evenly across one interval.
            let mut next = start + interval.mul_f64(c as f64 / conns as f64);
            while next < end {
                tokio::time::sleep_until(next.into()).await;
                let sent = Instant::now();
                let status = conn.round_trip().await;
                assert_eq!(status, 200);
                lat.push((sent.elapsed().as_nanos() as u64, next.elapsed().as_nanos() as u64));
                next += interval;
            }
            lat
        }));
    }
    let (mut sent, mut scheduled) = (Vec::new(), Vec::new());
    for t in tasks {
        for (a, b) in t.await.unwrap() {
            sent.push(a);
            scheduled.push(b);
        }
    }
    sent.sort_unstable();
    scheduled.sort_unstable();
    (sent, scheduled)
}

async fn closed_loop(
    addr: SocketAddr,
    request: &[u8],
    conns: u64,
    stop: impl Fn(u64, Instant) -> bool + Send + Sync + Copy + 'static,
) -> (u64, Duration) {
    let start = Instant::now();
    let counter = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
    let mut tasks = Vec::new();
    for _ in 0..conns {
        let mut conn = Conn::open(addr, request).await;
        let counter = counter.clone();
        tasks.push(tokio::spawn(async move {
            loop {
                let done = counter.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                if stop(done, start) {
                    break;
                }
                assert_eq!(conn.round_trip().await, 200);
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let n = counter.load(std::sync::atomic::Ordering::Relaxed).saturating_sub(conns);
    (n, start.elapsed())
}

fn main() {
    if std::env::var_os("ESTEIRA_BENCH_SERVER").is_some() {
        server_main();
        return;
    }
    let rate = env_num("BENCH_RATE", 5000);
    let secs = env_num("BENCH_SECS", 10);
    let conns = env_num("BENCH_CONNS", 32);
    let total = env_num("BENCH_TOTAL", 1_000_000);

    let mut child = Command::new(std::env::current_exe().unwrap())
        .env("ESTEIRA_BENCH_SERVER", "1")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
    let port: u16 = line.trim().strip_prefix("PORT ").unwrap().parse().unwrap();
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let pid = child.id();
    let body = fixture::sample_row().to_string();
    let request = format!(
        "POST /api/predict HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .into_bytes();

    // One client thread: the server gets the rest of the two cores.
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    rt.block_on(async {
        let (n, _) = closed_loop(addr, &request, 4, |done, _| done >= 20_000).await;
        println!("warm-up: {n} requests; server VmRSS {} KiB", rss_kib(pid));

        let (sent, scheduled) = open_loop(addr, &request, rate, secs, conns).await;
        println!("open loop {rate} req/s x {secs} s over {conns} connections: {} requests", sent.len());
        for (what, lat) in [("from send", &sent), ("from schedule (incl. 1 ms timer granularity)", &scheduled)] {
            println!(
                "  latency ms {what}: p50 {:.3} p90 {:.3} p99 {:.3} p99.9 {:.3} max {:.3}",
                percentile(lat, 0.5),
                percentile(lat, 0.9),
                percentile(lat, 0.99),
                percentile(lat, 0.999),
                percentile(lat, 1.0),
            );
        }

        let (n, took) = closed_loop(addr, &request, conns, move |_, start| start.elapsed().as_secs() >= secs).await;
        println!(
            "closed loop, {conns} connections: {n} requests in {:.1} s = {:.0} req/s",
            took.as_secs_f64(),
            n as f64 / took.as_secs_f64()
        );

        let before = rss_kib(pid);
        let (n, took) = closed_loop(addr, &request, conns, move |done, _| done >= total).await;
        let after = rss_kib(pid);
        println!(
            "{n} requests in {:.1} s ({:.0} req/s): server VmRSS {before} KiB before, {after} KiB after ({:+} KiB)",
            took.as_secs_f64(),
            n as f64 / took.as_secs_f64(),
            after as i64 - before as i64
        );
    });
    drop(child.stdin.take());
    let _ = child.wait();
}
