//! SMS through a gateway over HTTP(S) (`VONGDOI_SMS_URL`). Vietnamese brand-name gateways
//! (eSMS, SpeedSMS, Viettel, VNPT…) take JSON with an API key (docs/domain.md §6), each with its own
//! field names, so the request is configuration: method, headers, a JSON body template, the
//! reply field that means success and the one that holds the provider's id. Presets fill these
//! for eSMS and SpeedSMS; every setting can still be overridden.
//!
//! The message id goes in every request (`{{ id }}`; eSMS's `RequestId`) so that a gateway that
//! de-duplicates drops the second copy of a request whose reply was lost. Its answer to that
//! second copy ("already received this id", `VONGDOI_SMS_DUPLICATE`; eSMS: `CodeResult=124`)
//! is a success: the first copy went.
//!
//! Timeouts, lost connections, 408, 429 and 5xx are transient (retried); other 4xx and a 2xx
//! reply whose success field says something else are permanent (the reply is kept as the
//! error). A 2xx that is not JSON or lacks the field (an HTML page of a proxy, garbage) is not
//! a send either: transient, since the gateway may or may not have the message (issue #10).
//! The generic preset has no success test of its own: the operator must name one.
//!
//! The client's timeout covers the whole request, connect to the last byte of the reply; the
//! reply is read up to 64 KiB, so a gateway that answers megabytes cannot fill the memory.

use super::SendError;
use crate::store::outbox::OutboxMessage;
use minijinja::Environment;
use reqwest::Method;
use std::time::Duration;

#[derive(Debug, Clone)]
pub struct GatewayConfig {
    pub url: String,
    pub method: Method,
    pub headers: Vec<(String, String)>,
    /// minijinja template rendering the JSON body; variables: id, to (+84…), to_local (0…),
    /// to_digits (84…), body, unicode, segments, api_key, secret_key, brandname, callback_url.
    pub body: String,
    /// `field=value` (dotted path into the JSON reply) that means accepted; None: any 2xx
    /// (only when the operator says `VONGDOI_SMS_SUCCESS=2xx`).
    pub success: Option<(String, String)>,
    /// Dotted path of the provider's message id in the reply.
    pub provider_id: Option<String>,
    /// `field=value` of the reply meaning "this id was received before" (a retry of a request
    /// whose reply was lost): counted as sent.
    pub duplicate: Option<(String, String)>,
    pub api_key: String,
    pub secret_key: String,
    pub brandname: String,
    /// A brandname per sender (`VONGDOI_SMS_BRANDNAME_HEALTH`, `_POLICE`, `_SCHOOL`): carriers
    /// register a brandname and its templates per organisation.
    pub brandname_by_sender: Vec<(crate::registry::FacilityKind, String)>,
    pub callback_url: String,
    pub timeout: Duration,
}

/// The generic request: `{"id", "to", "body", "encoding", "segments"}`, like a line of the
/// file outbox.
const GENERIC_BODY: &str = r#"{"id": {{ id|tojson }}, "to": {{ to|tojson }}, "body": {{ body|tojson }}, "encoding": {{ encoding|tojson }}, "segments": {{ segments }}}"#;

const ESMS_URL: &str =
    "https://rest.esms.vn/MainService.svc/json/SendMultipleMessage_V4_post_json/";
const ESMS_BODY: &str = r#"{"ApiKey": {{ api_key|tojson }}, "SecretKey": {{ secret_key|tojson }}, "Phone": {{ to_local|tojson }}, "Content": {{ body|tojson }}, "Brandname": {{ brandname|tojson }}, "SmsType": "2", "IsUnicode": "{% if unicode %}1{% else %}0{% endif %}", "RequestId": {{ id|tojson }}{% if callback_url %}, "CallbackUrl": {{ callback_url|tojson }}{% endif %}}"#;

const SPEEDSMS_URL: &str = "https://api.speedsms.vn/index.php/sms/send";
const SPEEDSMS_BODY: &str = r#"{"to": [{{ to_digits|tojson }}], "content": {{ body|tojson }}, "sms_type": 2, "sender": {{ brandname|tojson }}}"#;

impl GatewayConfig {
    /// From `VONGDOI_SMS_*`; None when `VONGDOI_SMS_URL` is unset and no preset names a URL.
    pub fn from_env() -> anyhow::Result<Option<GatewayConfig>> {
        let var = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
        let preset = var("VONGDOI_SMS_PRESET").unwrap_or_else(|| "generic".into());
        let api_key = var("VONGDOI_SMS_API_KEY").unwrap_or_default();
        #[allow(clippy::type_complexity)]
        let (url, body, success, provider_id, mut headers): (
            Option<String>,
            &str,
            Option<&str>,
            Option<&str>,
            Vec<(String, String)>,
        ) = match preset.as_str() {
            "generic" => (None, GENERIC_BODY, None, Some("provider_id"), vec![]),
            "esms" => (
                Some(ESMS_URL.into()),
                ESMS_BODY,
                Some("CodeResult=100"),
                Some("SMSID"),
                vec![],
            ),
            "speedsms" => (
                Some(SPEEDSMS_URL.into()),
                SPEEDSMS_BODY,
                Some("status=success"),
                Some("data.tranId"),
                // SpeedSMS: the access token is the Basic-auth user name.
                vec![(
                    "Authorization".into(),
                    format!("Basic {}", base64(format!("{api_key}:x").as_bytes())),
                )],
            ),
            other => {
                anyhow::bail!("VONGDOI_SMS_PRESET '{other}' is not one of generic, esms, speedsms")
            }
        };
        let Some(url) = var("VONGDOI_SMS_URL").or(url) else {
            return Ok(None);
        };
        if !(url.starts_with("http://") || url.starts_with("https://")) {
            anyhow::bail!("VONGDOI_SMS_URL '{url}' must start with http:// or https://");
        }
        if let Some(h) = var("VONGDOI_SMS_HEADERS") {
            for line in h.lines().map(str::trim).filter(|l| !l.is_empty()) {
                let (name, value) = line.split_once(':').ok_or_else(|| {
                    anyhow::anyhow!(
                        "VONGDOI_SMS_HEADERS: '{line}' is not 'Name: value' (one header per line)"
                    )
                })?;
                headers.push((name.trim().to_string(), value.trim().to_string()));
            }
        }
        let success = match var("VONGDOI_SMS_SUCCESS").as_deref().or(success) {
            None => anyhow::bail!(
                "VONGDOI_SMS_SUCCESS chưa đặt / is not set: the generic gateway preset cannot tell \
                 an accepted SMS from an error page. Set it to the reply field and value that mean \
                 accepted (e.g. VONGDOI_SMS_SUCCESS=status=queued), or to 2xx if every 2xx reply \
                 of this gateway means accepted"
            ),
            Some("2xx") => None,
            Some(s) => Some(
                s.split_once('=')
                    .map(|(f, v)| (f.trim().to_string(), v.trim().to_string()))
                    .ok_or_else(|| {
                        anyhow::anyhow!("VONGDOI_SMS_SUCCESS '{s}' is not field=value (or 2xx)")
                    })?,
            ),
        };
        // eSMS answers 124 to a RequestId it has had today (its de-duplication).
        let duplicate = match var("VONGDOI_SMS_DUPLICATE")
            .or_else(|| (preset == "esms").then(|| "CodeResult=124".into()))
        {
            None => None,
            Some(s) if s == "none" => None,
            Some(s) => Some(
                s.split_once('=')
                    .map(|(f, v)| (f.trim().to_string(), v.trim().to_string()))
                    .ok_or_else(|| {
                        anyhow::anyhow!("VONGDOI_SMS_DUPLICATE '{s}' is not field=value (or none)")
                    })?,
            ),
        };
        let method = var("VONGDOI_SMS_METHOD").unwrap_or_else(|| "POST".into());
        let method = Method::from_bytes(method.to_uppercase().as_bytes())
            .map_err(|_| anyhow::anyhow!("VONGDOI_SMS_METHOD '{method}' is not an HTTP method"))?;
        let timeout = match var("VONGDOI_SMS_TIMEOUT_SECONDS") {
            None => Duration::from_secs(10),
            Some(s) => Duration::from_secs_f64(
                s.parse().ok().filter(|t: &f64| *t > 0.0).ok_or_else(|| {
                    anyhow::anyhow!("VONGDOI_SMS_TIMEOUT_SECONDS '{s}' is not a positive number")
                })?,
            ),
        };
        let cfg = GatewayConfig {
            url,
            method,
            headers,
            body: var("VONGDOI_SMS_BODY").unwrap_or_else(|| body.to_string()),
            success,
            provider_id: var("VONGDOI_SMS_PROVIDER_ID").or(provider_id.map(Into::into)),
            duplicate,
            api_key,
            secret_key: var("VONGDOI_SMS_SECRET_KEY").unwrap_or_default(),
            brandname: var("VONGDOI_SMS_BRANDNAME").unwrap_or_default(),
            brandname_by_sender: super::config::per_sender("VONGDOI_SMS_BRANDNAME"),
            callback_url: var("VONGDOI_SMS_CALLBACK_URL").unwrap_or_default(),
            timeout,
        };
        // Refuse a broken template at start, not at the first message.
        HttpGateway::new(cfg.clone(), 1)?;
        Ok(Some(cfg))
    }
}

pub struct HttpGateway {
    cfg: GatewayConfig,
    client: reqwest::Client,
    env: Environment<'static>,
}

impl HttpGateway {
    pub fn new(cfg: GatewayConfig, connections: usize) -> anyhow::Result<HttpGateway> {
        let mut env = Environment::new();
        env.add_template_owned("body", cfg.body.clone())
            .map_err(|e| anyhow::anyhow!("VONGDOI_SMS_BODY is not a valid template: {e}"))?;
        let client = reqwest::Client::builder()
            .timeout(cfg.timeout)
            .pool_max_idle_per_host(connections)
            .user_agent(concat!("vongdoi/", env!("CARGO_PKG_VERSION")))
            .build()?;
        let gateway = HttpGateway { cfg, client, env };
        // Render a sample so a template that only fails on use is caught now.
        let body = gateway
            .render(&sample())
            .map_err(|e| anyhow::anyhow!("VONGDOI_SMS_BODY: {e}"))?;
        serde_json::from_str::<serde_json::Value>(&body).map_err(|e| {
            anyhow::anyhow!("VONGDOI_SMS_BODY does not render to JSON ({e}): {body}")
        })?;
        Ok(gateway)
    }

    fn render(&self, m: &OutboxMessage) -> Result<String, minijinja::Error> {
        let digits = m.address.trim_start_matches('+');
        let local = match digits.strip_prefix("84") {
            Some(rest) => format!("0{rest}"),
            None => digits.to_string(),
        };
        self.env.get_template("body")?.render(minijinja::context! {
            id => m.id,
            to => m.address,
            to_local => local,
            to_digits => digits,
            body => m.body,
            encoding => m.encoding,
            unicode => m.encoding.as_deref() == Some("ucs2"),
            segments => m.segments.unwrap_or(1),
            api_key => self.cfg.api_key,
            secret_key => self.cfg.secret_key,
            brandname => (self.cfg.brandname_by_sender.iter())
                .find(|(sender, _)| sender.as_str() == m.sender)
                .map_or(&self.cfg.brandname, |(_, b)| b),
            callback_url => self.cfg.callback_url,
        })
    }

    pub async fn send(&self, m: &OutboxMessage) -> Result<Option<String>, SendError> {
        let body = self
            .render(m)
            .map_err(|e| SendError::Permanent(format!("SMS body template: {e}")))?;
        let mut request = self
            .client
            .request(self.cfg.method.clone(), &self.cfg.url)
            .header("Content-Type", "application/json")
            .header("Idempotency-Key", &m.id)
            .body(body);
        for (name, value) in &self.cfg.headers {
            request = request.header(name, value);
        }
        let mut reply = request.send().await.map_err(|e| {
            // No reply, or none in time: the gateway may or may not have it; the retry carries
            // the same id for its de-duplication.
            SendError::Transient(format!("SMS gateway: {}", without_url(&e)))
        })?;
        let status = reply.status();
        // At most REPLY_LIMIT bytes; the rest is not read (the connection is dropped with it).
        const REPLY_LIMIT: usize = 64 * 1024;
        let mut bytes = Vec::new();
        while bytes.len() < REPLY_LIMIT {
            match reply.chunk().await {
                Ok(Some(chunk)) => bytes.extend_from_slice(&chunk),
                Ok(None) => break,
                Err(e) => {
                    return Err(SendError::Transient(format!(
                        "SMS gateway reply: {}",
                        without_url(&e)
                    )))
                }
            }
        }
        bytes.truncate(REPLY_LIMIT);
        let text = String::from_utf8_lossy(&bytes);
        let short: String = text.chars().take(300).collect();
        if status.is_server_error() || status.as_u16() == 429 || status.as_u16() == 408 {
            return Err(SendError::Transient(format!(
                "SMS gateway HTTP {status}: {short}"
            )));
        }
        if !status.is_success() {
            return Err(SendError::Permanent(format!(
                "SMS gateway HTTP {status}: {short}"
            )));
        }
        let json: Option<serde_json::Value> = serde_json::from_str(&text).ok();
        if is_duplicate(&self.cfg, json.as_ref()) {
            // The gateway had this id already: the first request went (its reply was lost).
            return Ok(self
                .cfg
                .provider_id
                .as_ref()
                .and_then(|path| lookup(json.as_ref()?, path)));
        }
        if let Some((field, want)) = &self.cfg.success {
            match json.as_ref().and_then(|j| lookup(j, field)) {
                Some(got) if got == *want => {}
                Some(got) => {
                    return Err(SendError::Permanent(format!(
                        "SMS gateway refused ({field} = {got}, expected {want}): {short}"
                    )))
                }
                None => {
                    return Err(SendError::Transient(format!(
                        "SMS gateway HTTP {status} without {field} in the reply (not JSON, or not \
                         this gateway's answer): {short}"
                    )))
                }
            }
        }
        Ok(self
            .cfg
            .provider_id
            .as_ref()
            .and_then(|path| lookup(json.as_ref()?, path)))
    }
}

/// Whether a reply says "already received this id" (`VONGDOI_SMS_DUPLICATE`).
fn is_duplicate(cfg: &GatewayConfig, json: Option<&serde_json::Value>) -> bool {
    match (&cfg.duplicate, json) {
        (Some((field, want)), Some(j)) => lookup(j, field).is_some_and(|got| got == *want),
        _ => false,
    }
}

/// reqwest's errors name the URL, which may carry an API key in its query.
pub(super) fn without_url(e: &reqwest::Error) -> String {
    let kind = if e.is_timeout() {
        "timed out"
    } else if e.is_connect() {
        "cannot connect"
    } else {
        "request failed"
    };
    format!(
        "{kind} ({})",
        std::error::Error::source(e)
            .map(|s| s.to_string())
            .unwrap_or_default()
    )
}

/// A dotted path into JSON, as text (`data.tranId`, `CodeResult`); numbers and strings alike.
fn lookup(json: &serde_json::Value, path: &str) -> Option<String> {
    let mut v = json;
    for part in path.split('.') {
        v = match v {
            serde_json::Value::Array(a) => a.get(part.parse::<usize>().ok()?)?,
            _ => v.get(part)?,
        };
    }
    match v {
        serde_json::Value::String(s) => Some(s.clone()),
        serde_json::Value::Null => None,
        other => Some(other.to_string()),
    }
}

/// RFC 4648 base64 (HTTP Basic credentials of the SpeedSMS preset).
pub fn base64(bytes: &[u8]) -> String {
    const T: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for c in bytes.chunks(3) {
        let n = (c[0] as u32) << 16
            | (*c.get(1).unwrap_or(&0) as u32) << 8
            | *c.get(2).unwrap_or(&0) as u32;
        for i in 0..4 {
            if i <= c.len() {
                out.push(T[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

fn sample() -> OutboxMessage {
    OutboxMessage {
        id: "20260101-sms-0000000000000000".into(),
        recipient_id: String::new(),
        channel: crate::store::Channel::Sms,
        address: "+84912345678".into(),
        day: chrono::NaiveDate::from_ymd_opt(2026, 1, 1).expect("date"),
        language: "vi".into(),
        subject: String::new(),
        body: "Nhac \"lich\" tiem".into(),
        encoding: Some("gsm7".into()),
        segments: Some(1),
        status: crate::store::MessageStatus::Sending,
        attempts: 1,
        next_attempt_at: chrono::Utc::now(),
        last_error: None,
        provider_id: None,
        sender: "health".into(),
        sender_name: "Trạm Y tế phường Ba Đình".into(),
        alert_id: 0,
        zns_template_id: None,
        template_data: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gateway(body: &str) -> HttpGateway {
        HttpGateway::new(
            GatewayConfig {
                url: "http://127.0.0.1:9/".into(),
                method: Method::POST,
                headers: vec![],
                body: body.into(),
                success: None,
                provider_id: None,
                duplicate: Some(("CodeResult".into(), "124".into())),
                api_key: "K".into(),
                secret_key: "S".into(),
                brandname: "TRAMYTE".into(),
                brandname_by_sender: vec![(crate::registry::FacilityKind::Police, "CONGAN".into())],
                callback_url: String::new(),
                timeout: Duration::from_secs(1),
            },
            1,
        )
        .unwrap()
    }

    #[test]
    fn presets_render_valid_json_with_the_dedup_key() {
        let m = sample();
        let esms: serde_json::Value =
            serde_json::from_str(&gateway(ESMS_BODY).render(&m).unwrap()).unwrap();
        assert_eq!(esms["Phone"], "0912345678");
        assert_eq!(esms["RequestId"], m.id.as_str());
        assert_eq!(esms["IsUnicode"], "0");
        assert_eq!(esms["Content"], "Nhac \"lich\" tiem");
        assert!(esms.get("CallbackUrl").is_none());
        let speed: serde_json::Value =
            serde_json::from_str(&gateway(SPEEDSMS_BODY).render(&m).unwrap()).unwrap();
        assert_eq!(speed["to"][0], "84912345678");
        let generic: serde_json::Value =
            serde_json::from_str(&gateway(GENERIC_BODY).render(&m).unwrap()).unwrap();
        assert_eq!(generic["id"], m.id.as_str());
        assert_eq!(generic["to"], "+84912345678");
    }

    #[test]
    fn a_template_that_is_not_json_is_refused_at_start() {
        let bad = GatewayConfig {
            body: "to={{ to }}".into(),
            ..gateway(GENERIC_BODY).cfg
        };
        assert!(HttpGateway::new(bad, 1).is_err());
    }

    #[test]
    fn base64_matches_rfc4648_vectors() {
        for (i, o) in [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg=="),
            ("fooba", "Zm9vYmE="),
            ("foobar", "Zm9vYmFy"),
        ] {
            assert_eq!(base64(i.as_bytes()), o);
        }
    }

    #[test]
    fn an_already_received_reply_is_a_success() {
        let g = gateway(ESMS_BODY);
        let j = |s: &str| serde_json::from_str::<serde_json::Value>(s).unwrap();
        assert!(is_duplicate(&g.cfg, Some(&j(r#"{"CodeResult": "124"}"#))));
        assert!(is_duplicate(&g.cfg, Some(&j(r#"{"CodeResult": 124}"#))));
        assert!(!is_duplicate(&g.cfg, Some(&j(r#"{"CodeResult": "100"}"#))));
        assert!(!is_duplicate(&g.cfg, Some(&j(r#"{"CodeResult": "99"}"#))));
        assert!(!is_duplicate(&g.cfg, None));
        let off = GatewayConfig {
            duplicate: None,
            ..g.cfg.clone()
        };
        assert!(!is_duplicate(&off, Some(&j(r#"{"CodeResult": "124"}"#))));
    }

    #[test]
    fn reply_fields_by_dotted_path() {
        let j: serde_json::Value = serde_json::from_str(
            r#"{"CodeResult": "100", "data": {"tranId": 42}, "list": [{"x": "y"}]}"#,
        )
        .unwrap();
        assert_eq!(lookup(&j, "CodeResult").as_deref(), Some("100"));
        assert_eq!(lookup(&j, "data.tranId").as_deref(), Some("42"));
        assert_eq!(lookup(&j, "list.0.x").as_deref(), Some("y"));
        assert_eq!(lookup(&j, "nothing"), None);
    }
}
