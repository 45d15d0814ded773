//! A real browser: Debian's headless Chromium driven by chromedriver over the W3C WebDriver
//! protocol (a minimal client on reqwest). Screenshots go to `target/browser-screenshots/`.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use esteira_serve::AppState;
use esteira_train::Model;
use serde_json::{Value, json};

use crate::fixture::{self, Running, client, library_probability, sample_row};

const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";

fn find_binary(name: &str) -> Option<PathBuf> {
    std::env::var_os("PATH")?.to_str()?.split(':').map(|d| PathBuf::from(d).join(name)).find(|p| p.is_file())
}

fn screenshot_dir() -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target"));
    let dir = target.join("browser-screenshots");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn base64_decode(s: &str) -> Vec<u8> {
    let val = |c: u8| match c {
        b'A'..=b'Z' => u32::from(c - b'A'),
        b'a'..=b'z' => u32::from(c - b'a') + 26,
        b'0'..=b'9' => u32::from(c - b'0') + 52,
        b'+' => 62,
        b'/' => 63,
        _ => panic!("bad base64 byte {c}"),
    };
    let bytes: Vec<u8> = s.bytes().filter(|b| !b.is_ascii_whitespace() && *b != b'=').collect();
    let mut out = Vec::with_capacity(bytes.len() * 3 / 4);
    for chunk in bytes.chunks(4) {
        let mut acc = 0u32;
        for (i, &c) in chunk.iter().enumerate() {
            acc |= val(c) << (18 - 6 * i);
        }
        let n = chunk.len() - 1;
        out.extend_from_slice(&acc.to_be_bytes()[1..=n]);
    }
    out
}

struct Driver {
    child: Child,
    http: reqwest::Client,
    session: String,
    base: String,
    _profile: tempfile::TempDir,
}

impl Driver {
    async fn start(chromedriver: &PathBuf) -> Self {
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let child = Command::new(chromedriver)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let http = client();
        let base = format!("http://127.0.0.1:{port}");
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Ok(r) = http.get(format!("{base}/status")).send().await
                && let Ok(v) = r.json::<Value>().await
                && v["value"]["ready"] == true
            {
                break;
            }
            assert!(Instant::now() < deadline, "chromedriver did not become ready");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let profile = tempfile::tempdir().unwrap();
        let args = [
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--window-size=1280,1000",
        ]
        .map(str::to_owned)
        .into_iter()
        .chain([format!("--user-data-dir={}", profile.path().display())])
        .collect::<Vec<_>>();
        let mut options = json!({ "args": args });
        if let Some(chromium) = find_binary("chromium") {
            options["binary"] = json!(chromium);
        }
        let caps = json!({"capabilities": {"alwaysMatch": {"browserName": "chrome", "goog:chromeOptions": options}}});
        let mut d = Self { child, http, session: String::new(), base, _profile: profile };
        let v = d.call("POST", "/session", Some(caps)).await;
        v["sessionId"].as_str().unwrap_or_else(|| panic!("no session: {v}")).clone_into(&mut d.session);
        d
    }

    async fn call(&self, method: &str, path: &str, body: Option<Value>) -> Value {
        let url = if path == "/session" {
            format!("{}{path}", self.base)
        } else {
            format!("{}/session/{}{path}", self.base, self.session)
        };
        let req = match method {
            "GET" => self.http.get(url),
            "DELETE" => self.http.delete(url),
            _ => self.http.post(url).json(&body.unwrap_or_else(|| json!({}))),
        };
        let res = req.send().await.unwrap();
        let status = res.status();
        if std::env::var_os("WEBDRIVER_TRACE").is_some() {
            eprintln!("{method} {path} -> {status}");
        }
        let v: Value = res.json().await.unwrap();
        assert!(status.is_success(), "WebDriver {method} {path}: {status} {v}");
        v["value"].clone()
    }

    async fn goto(&self, url: &str) {
        self.call("POST", "/url", Some(json!({ "url": url }))).await;
    }

    async fn find(&self, css: &str) -> String {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let url = format!("{}/session/{}/element", self.base, self.session);
            let res = self.http.post(url).json(&json!({"using": "css selector", "value": css})).send().await.unwrap();
            if res.status().is_success() {
                let v: Value = res.json().await.unwrap();
                return v["value"][ELEMENT].as_str().unwrap_or_else(|| panic!("find {css}: {v}")).to_owned();
            }
            assert!(Instant::now() < deadline, "no element {css}");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    async fn count(&self, css: &str) -> usize {
        let v = self.call("POST", "/elements", Some(json!({"using": "css selector", "value": css}))).await;
        v.as_array().map_or(0, Vec::len)
    }

    async fn click(&self, css: &str) {
        let id = self.find(css).await;
        self.call("POST", &format!("/element/{id}/click"), None).await;
    }

    async fn type_into(&self, css: &str, text: &str) {
        let id = self.find(css).await;
        self.call("POST", &format!("/element/{id}/clear"), None).await;
        self.call("POST", &format!("/element/{id}/value"), Some(json!({ "text": text }))).await;
    }

    async fn text(&self, css: &str) -> String {
        let id = self.find(css).await;
        self.call("GET", &format!("/element/{id}/text"), None).await.as_str().unwrap().to_owned()
    }

    async fn attribute(&self, css: &str, name: &str) -> String {
        let id = self.find(css).await;
        self.call("GET", &format!("/element/{id}/attribute/{name}"), None).await.as_str().unwrap().to_owned()
    }

    async fn screenshot(&self, name: &str) -> PathBuf {
        let v = self.call("GET", "/screenshot", None).await;
        let png = base64_decode(v.as_str().unwrap());
        assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
        let path = screenshot_dir().join(format!("{name}.png"));
        std::fs::write(&path, png).unwrap();
        path
    }

    async fn quit(mut self) {
        let _ = self.http.delete(format!("{}/session/{}", self.base, self.session)).send().await;
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn browser_fills_the_form_and_follows_a_run() {
    let Some(chromedriver) = find_binary("chromedriver") else {
        assert!(
            std::env::var("ESTEIRA_REQUIRE_BROWSER").as_deref() != Ok("1"),
            "ESTEIRA_REQUIRE_BROWSER=1 but chromedriver is not on PATH (apt-get install chromium chromium-driver)"
        );
        println!(
            "SKIPPED browser_fills_the_form_and_follows_a_run: chromedriver not found (apt-get install chromium chromium-driver)"
        );
        return;
    };
    let f = fixture::store();
    let srv = Running::start(AppState::load(f.store.clone(), None, None).unwrap()).await;
    let d = Driver::start(&chromedriver).await;

    d.goto(&format!("{}/", srv.base)).await;
    d.find("form#perfil").await;
    d.screenshot("form").await;
    let row = sample_row();
    for (k, v) in row.as_object().unwrap() {
        match v {
            Value::String(s) => d.click(&format!("select[name=\"{k}\"] option[value=\"{s}\"]")).await,
            other => d.type_into(&format!("input[name=\"{k}\"]"), &other.to_string()).await,
        }
    }
    d.click("#calcular").await;
    let shown = d.attribute("#p-positive", "data-value").await;
    let p: f64 = shown.parse().unwrap();
    let model = Model::from_json(&fixture::models().a).unwrap();
    assert_eq!(p, library_probability(&model, &row));
    let text = d.text("#p-positive").await;
    assert_eq!(text, format!("{:.1} %", p * 100.0).replace('.', ","));
    let decision = d.text("#decision").await;
    assert_eq!(decision, if p >= model.threshold() { "APROVADO" } else { "FALHOU" });
    assert!(d.text("#caveat").await.contains("não causas"));
    // The calibrated chance beside it, from the fixture's calibrator, and why the two differ.
    let calibrated: f64 = d.attribute("#p-calibrated", "data-value").await.parse().unwrap();
    let want = fixture::platt_by_hand(fixture::PLATT.0, fixture::PLATT.1, p);
    assert!((calibrated - want).abs() <= 1e-12, "{calibrated} vs {want}");
    assert!(d.text("#calibration-note").await.starts_with("Por que diferem"));
    d.screenshot("result").await;

    d.goto(&format!("{}/runs", srv.base)).await;
    assert_eq!(d.count("a.run-link").await, 2);
    d.screenshot("runs").await;
    d.click(&format!("a.run-link[href=\"/runs/{}\"]", f.run_ok)).await;
    assert_eq!(d.text("#run-id").await, f.run_ok);
    assert_eq!(d.count("iframe.report").await, 2);
    assert_eq!(d.count("#stages tr[id^=\"stage-\"]").await, 4);
    // Tall enough for the stage table and both inline reports.
    d.call("POST", "/window/rect", Some(json!({"width": 1280, "height": 3000}))).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    d.screenshot("run").await;

    d.goto(&format!("{}/runs/nope", srv.base)).await;
    assert!(d.text("#not-found").await.contains("no such run"));
    d.quit().await;
    srv.stop().await;
}
