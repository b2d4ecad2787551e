//! The embedded default channel (docs/interface.md): each email an `.eml` file under `outbox/email/`,
//! each SMS a JSON line in `outbox/sms.jsonl`. Written so that a killed run never writes the
//! same message twice: an email file is named by the message id and written by rename (a
//! retry replaces it with the same bytes); before appending an SMS that was attempted before,
//! the file is searched for its id (the ids already in the file are read once and then only
//! what was appended since, so a run that resumes hundreds of messages does not read the file
//! hundreds of times). Because of that check, the worker may mark file messages sent a batch
//! at a time: a message written but not yet marked when the process dies is found in the
//! file when it is claimed again, and not written twice.
//!
//! Lines are not synced one by one: a write() is in the kernel once it returns, so it survives
//! the process being killed, which is the failure the outbox guards against (the SQLite store
//! runs `synchronous=NORMAL` on the same reasoning). The file is synced once at the end of each
//! delivery pass, for a machine that loses power. Syncing every line made a catch-up run of
//! 173,000 SMS spend most of its four minutes in fsync.
//!
//! Whole lines or nothing (issue #10): a full disk cuts a write short, and half a JSON line
//! would break every reader of the file, this one included. A line goes in one write(); one
//! that fails or comes up short is cut off again (the file truncated back to where it began),
//! and the message is retried. An email's temporary file is removed when it cannot be
//! written or renamed, so a full disk leaves no `.tmp` files behind.

use crate::store::outbox::OutboxMessage;
use std::collections::HashSet;
use std::fs::{self, OpenOptions};
use std::io::{BufRead, BufReader, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

pub struct FileChannel {
    email_dir: PathBuf,
    sms_file: PathBuf,
    /// Ids found in sms.jsonl and the byte offset read up to; loaded on the first retry.
    written: Mutex<Option<(HashSet<String>, u64)>>,
}

impl FileChannel {
    pub fn new(dir: &Path) -> std::io::Result<FileChannel> {
        let email_dir = dir.join("email");
        fs::create_dir_all(&email_dir)?;
        Ok(FileChannel {
            email_dir,
            sms_file: dir.join("sms.jsonl"),
            written: Mutex::new(None),
        })
    }

    pub fn append_sms(&self, m: &OutboxMessage) -> std::io::Result<()> {
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
        let line = format!("{line}\n");
        match f.write(line.as_bytes()) {
            Ok(n) if n == line.len() => Ok(()),
            Ok(0) => Err(disk_full("sms.jsonl")),
            Ok(n) => {
                // O_APPEND: the write began n bytes before where the file offset is now.
                let end = f.stream_position()?;
                cut_back(&f, end - n as u64, end)?;
                Err(disk_full("sms.jsonl"))
            }
            Err(e) => Err(e),
        }
    }

    /// Flushes what was appended to the disk (end of a delivery pass).
    pub fn sync(&self) -> std::io::Result<()> {
        match fs::File::open(&self.sms_file) {
            Ok(f) => f.sync_data(),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(e),
        }
    }

    fn sms_already_written(&self, id: &str) -> std::io::Result<bool> {
        let mut written = self.written.lock().expect("outbox lock");
        let (ids, offset) = written.get_or_insert_with(|| (HashSet::new(), 0));
        let Ok(mut f) = fs::File::open(&self.sms_file) else {
            return Ok(false);
        };
        // Read what was appended since the last look (by this or another process).
        f.seek(SeekFrom::Start(*offset))?;
        let mut reader = BufReader::new(f);
        let mut line = String::new();
        loop {
            line.clear();
            let n = reader.read_line(&mut line)?;
            if n == 0 || !line.ends_with('\n') {
                break; // the end, or a line still being written: read it next time
            }
            *offset += n as u64;
            if let Ok(v) = serde_json::from_str::<serde_json::Value>(&line) {
                if let Some(id) = v["id"].as_str() {
                    ids.insert(id.to_string());
                }
            }
        }
        Ok(ids.contains(id))
    }

    /// The email as an SMTP server would receive it (built by `delivery::email`).
    pub fn write_email(&self, m: &OutboxMessage, email: &[u8]) -> std::io::Result<()> {
        let path = self.email_dir.join(format!("{}.eml", m.id));
        let tmp = self.email_dir.join(format!(".{}.tmp", m.id));
        let written = fs::write(&tmp, email).and_then(|()| fs::rename(&tmp, path));
        if written.is_err() {
            let _ = fs::remove_file(&tmp);
        }
        written
    }
}

/// Truncates a torn line (`start..end`) off the end of the file — only if nothing was appended
/// after it meanwhile, which would be cut with it (another process's write after a short one
/// on a full disk is itself short or refused; its own cut-back removes it).
fn cut_back(f: &fs::File, start: u64, end: u64) -> std::io::Result<()> {
    if f.metadata()?.len() == end {
        f.set_len(start)?;
    }
    Ok(())
}

fn disk_full(what: &str) -> std::io::Error {
    std::io::Error::other(format!("{what}: ghi không trọn (đĩa đầy?) / short write (disk full?); the line was removed and the message will be retried"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{NaiveDate, Utc};

    fn sms(id: &str, attempts: i32) -> OutboxMessage {
        OutboxMessage {
            id: id.into(),
            recipient_id: "001190000001".into(),
            channel: crate::store::Channel::Sms,
            address: "+84912345678".into(),
            day: NaiveDate::from_ymd_opt(2026, 11, 21).unwrap(),
            language: "vi".into(),
            subject: String::new(),
            body: "Nhac lich".into(),
            encoding: Some("gsm7".into()),
            segments: Some(1),
            status: crate::store::MessageStatus::Sending,
            attempts,
            next_attempt_at: Utc::now(),
            last_error: None,
            provider_id: None,
            sender: "health".into(),
            sender_name: "Trạm Y tế phường Ba Đình".into(),
            alert_id: 0,
            zns_template_id: None,
            template_data: None,
        }
    }

    #[test]
    fn a_message_claimed_again_is_not_written_twice() {
        let dir = tempfile::tempdir().unwrap();
        let out = FileChannel::new(dir.path()).unwrap();
        out.append_sms(&sms("a", 1)).unwrap();
        // The process "dies" before marking: a new one claims "a" again (attempt 2).
        let again = FileChannel::new(dir.path()).unwrap();
        again.append_sms(&sms("a", 2)).unwrap();
        again.append_sms(&sms("b", 1)).unwrap();
        // Another process appends "c" after this one loaded the ids; its retry still sees it.
        out.append_sms(&sms("c", 1)).unwrap();
        again.append_sms(&sms("c", 2)).unwrap();
        again.append_sms(&sms("d", 2)).unwrap(); // attempted before, but never written
        again.sync().unwrap();
        let ids: Vec<String> = fs::read_to_string(dir.path().join("sms.jsonl"))
            .unwrap()
            .lines()
            .map(|l| {
                serde_json::from_str::<serde_json::Value>(l).unwrap()["id"]
                    .as_str()
                    .unwrap()
                    .to_string()
            })
            .collect();
        assert_eq!(ids, ["a", "b", "c", "d"]);
    }
}
