//! The embedded default channel (SPEC.md): each email an `.eml` file under `outbox/email/`,
//! each SMS a JSON line in `outbox/sms.jsonl`. Written so that a killed run never writes the
//! same message twice: an email file is named by the message id and written by rename (a
//! retry replaces it with the same bytes); before appending an SMS that was attempted before,
//! the file is searched for its id.

use crate::store::schedule::OutboxMessage;
use std::fs::{self, OpenOptions};
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};

pub struct FileChannel {
    email_dir: PathBuf,
    sms_file: PathBuf,
    from: String,
}

impl FileChannel {
    pub fn new(dir: &Path, from: &str) -> std::io::Result<FileChannel> {
        let email_dir = dir.join("email");
        fs::create_dir_all(&email_dir)?;
        Ok(FileChannel {
            email_dir,
            sms_file: dir.join("sms.jsonl"),
            from: from.to_string(),
        })
    }

    pub fn send(&self, m: &OutboxMessage) -> std::io::Result<()> {
        match m.channel.as_str() {
            "email" => self.write_email(m),
            _ => self.append_sms(m),
        }
    }

    fn append_sms(&self, m: &OutboxMessage) -> std::io::Result<()> {
        if m.attempts > 1 && self.sms_already_written(&m.id)? {
            return Ok(());
        }
        let line = serde_json::json!({
            "id": m.id,
            "to": m.address,
            "body": m.body,
            "encoding": m.encoding,
            "segments": m.segments,
        });
        let mut f = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.sms_file)?;
        // One write of the whole line: appends of whole lines do not interleave.
        f.write_all(format!("{line}\n").as_bytes())?;
        f.sync_data()
    }

    fn sms_already_written(&self, id: &str) -> std::io::Result<bool> {
        let Ok(f) = fs::File::open(&self.sms_file) else {
            return Ok(false);
        };
        let needle = format!("\"id\":\"{id}\"");
        for line in BufReader::new(f).lines() {
            if line?.contains(&needle) {
                return Ok(true);
            }
        }
        Ok(false)
    }

    fn write_email(&self, m: &OutboxMessage) -> std::io::Result<()> {
        let path = self.email_dir.join(format!("{}.eml", m.id));
        let tmp = self.email_dir.join(format!(".{}.tmp", m.id));
        fs::write(&tmp, render_eml(m, &self.from))?;
        fs::rename(tmp, path)
    }
}

/// RFC 5322 message: UTF-8 subject as an RFC 2047 encoded word, UTF-8 plain text body.
pub fn render_eml(m: &OutboxMessage, from: &str) -> String {
    let subject = format!("=?UTF-8?B?{}?=", base64(m.subject.as_bytes()));
    let date = m.next_attempt_at.to_rfc2822();
    format!(
        "From: {from}\r\nTo: {to}\r\nSubject: {subject}\r\nDate: {date}\r\nMessage-ID: <{id}@vongdoi>\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n{body}\r\n",
        to = m.address,
        id = m.id,
        body = m.body.replace('\n', "\r\n"),
    )
}

fn base64(bytes: &[u8]) -> String {
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

#[cfg(test)]
mod tests {
    use super::*;

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
}
