//! A real browser for the staff pages: Debian's headless Chromium driven through ChromeDriver's
//! W3C WebDriver protocol, so a test types a key into the sign-in form and presses the button
//! the way staff do (the form carries a token only our own page has; a form posted from
//! elsewhere is refused, so the browser must really open our page).

use serde_json::{json, Value};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Headless Chromium and ChromeDriver (Debian's `chromium`, `chromium-driver`). None when they
/// are not installed — a failure under CI=true, so the browser tests cannot silently stop.
pub fn chromium() -> Option<String> {
    let browser = [
        "/usr/bin/chromium",
        "/usr/bin/chromium-browser",
        "/usr/bin/google-chrome",
    ]
    .into_iter()
    .find(|c| Path::new(c).exists());
    match (browser, Path::new("/usr/bin/chromedriver").exists()) {
        (Some(b), true) => Some(b.to_string()),
        _ if std::env::var("CI").is_ok_and(|v| v == "true") => {
            panic!("CI=true but chromium or chromedriver is missing: apt-get install -y chromium chromium-driver")
        }
        _ => {
            eprintln!("note: chromium/chromedriver not installed; browser tests skipped (apt-get install -y chromium chromium-driver)");
            None
        }
    }
}

/// How Chromium runs here: headless, and without reaching for the network (this machine's
/// closed network refuses those connections, many at a time).
pub const HEADLESS: &[&str] = &[
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
];

/// One browser session with a fresh profile; the driver is stopped on drop.
pub struct Browser {
    driver: Child,
    base: String,
    http: reqwest::Client,
    _profile: tempfile::TempDir,
}

impl Browser {
    /// A headless browser with a window of `width`×`height` CSS pixels.
    pub async fn start(chromium: &str, width: u32, height: u32) -> Browser {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let driver = Command::new("/usr/bin/chromedriver")
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start chromedriver");
        let profile = tempfile::tempdir().unwrap();
        let mut b = Browser {
            driver,
            base: format!("http://127.0.0.1:{port}"),
            http: reqwest::Client::new(),
            _profile: profile,
        };
        let deadline = Instant::now() + Duration::from_secs(20);
        while b
            .http
            .get(format!("{}/status", b.base))
            .send()
            .await
            .is_err()
        {
            assert!(Instant::now() < deadline, "chromedriver did not start");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let mut args: Vec<String> = HEADLESS.iter().map(|a| a.to_string()).collect();
        args.push(format!("--window-size={width},{height}"));
        args.push(format!("--user-data-dir={}", b._profile.path().display()));
        let mut options = json!({"binary": chromium, "args": args});
        if width < 500 {
            // A desktop window is at least 500 px wide: narrower is a phone, emulated as one.
            options["mobileEmulation"] =
                json!({"deviceMetrics": {"width": width, "height": height, "pixelRatio": 1.0}});
        }
        let caps = json!({"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": options
        }}});
        let res = b.call("POST", "/session", caps).await;
        let id = res["sessionId"]
            .as_str()
            .unwrap_or_else(|| panic!("a WebDriver session: {res}"))
            .to_string();
        b.base = format!("{}/session/{id}", b.base);
        b
    }

    async fn call(&self, method: &str, path: &str, body: Value) -> Value {
        let url = format!("{}{path}", self.base);
        let req = match method {
            "GET" => self.http.get(url),
            "DELETE" => self.http.delete(url),
            _ => self.http.post(url).json(&body),
        };
        let res: Value = req.send().await.unwrap().json().await.unwrap();
        res["value"].clone()
    }

    pub async fn goto(&self, url: &str) {
        let v = self.call("POST", "/url", json!({ "url": url })).await;
        assert!(v.is_null(), "navigating to {url}: {v}");
    }

    async fn element(&self, css: &str) -> String {
        let v = self
            .call(
                "POST",
                "/element",
                json!({"using": "css selector", "value": css}),
            )
            .await;
        v.as_object()
            .and_then(|o| o.values().next())
            .and_then(Value::as_str)
            .unwrap_or_else(|| panic!("no element {css}: {v}"))
            .to_string()
    }

    /// Types into the field that `css` finds.
    pub async fn type_into(&self, css: &str, text: &str) {
        let e = self.element(css).await;
        self.call(
            "POST",
            &format!("/element/{e}/value"),
            json!({ "text": text }),
        )
        .await;
    }

    /// Clicks what `css` finds (a navigation it starts is waited for by the driver).
    pub async fn click(&self, css: &str) {
        let e = self.element(css).await;
        self.call("POST", &format!("/element/{e}/click"), json!({}))
            .await;
    }

    /// The address the browser shows.
    pub async fn current_url(&self) -> String {
        self.call("GET", "/url", Value::Null)
            .await
            .as_str()
            .unwrap_or_default()
            .to_string()
    }

    /// The page's DOM as HTML.
    pub async fn source(&self) -> String {
        self.call("GET", "/source", Value::Null)
            .await
            .as_str()
            .unwrap_or_default()
            .to_string()
    }

    /// A PNG of the viewport.
    pub async fn screenshot(&self) -> Vec<u8> {
        let b64 = self.call("GET", "/screenshot", Value::Null).await;
        decode_base64(b64.as_str().expect("a screenshot"))
    }

    /// Signs in through the real sign-in page as `username` (password [`super::api::password_of`]),
    /// then opens `next`; returns the DOM of where the browser ended (the sign-in page again
    /// when refused).
    pub async fn sign_in_and_open(&self, site: &str, username: &str, next: &str) -> String {
        let next_q: String = next
            .chars()
            .map(|c| match c {
                '?' => "%3F".to_string(),
                '&' => "%26".to_string(),
                '=' => "%3D".to_string(),
                c => c.to_string(),
            })
            .collect();
        self.goto(&format!("{site}/staff/login?next={next_q}"))
            .await;
        let before = self.source().await;
        self.type_into("input[name=username]", username).await;
        self.type_into("input[name=password]", &super::api::password_of(username))
            .await;
        self.click("button[type=submit]").await;
        // The click may return before the answer has replaced the page: wait until it has
        // (every sign-in page carries a fresh token, so the old page is recognisable).
        let deadline = Instant::now() + Duration::from_secs(15);
        let mut after = self.source().await;
        while after == before {
            assert!(
                Instant::now() < deadline,
                "the sign-in form was not answered"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
            after = self.source().await;
        }
        if after.contains("name=\"key\"") {
            return after;
        }
        self.goto(&format!("{site}{next}")).await;
        self.source().await
    }
}

impl Browser {
    /// Ends the session (the driver closes Chromium), then the driver.
    pub async fn close(self) {
        self.call("DELETE", "", Value::Null).await;
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

fn decode_base64(s: &str) -> Vec<u8> {
    let val = |c: u8| match c {
        b'A'..=b'Z' => c - b'A',
        b'a'..=b'z' => c - b'a' + 26,
        b'0'..=b'9' => c - b'0' + 52,
        b'+' => 62,
        _ => 63,
    };
    let bytes: Vec<u8> = s
        .bytes()
        .filter(|c| *c != b'=' && !c.is_ascii_whitespace())
        .collect();
    let mut out = Vec::with_capacity(bytes.len() * 3 / 4);
    for chunk in bytes.chunks(4) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |n, (i, c)| n | (val(*c) as u32) << (18 - 6 * i));
        let take = chunk.len().saturating_sub(1);
        for i in 0..take {
            out.push((n >> (16 - 8 * i)) as u8);
        }
    }
    out
}
