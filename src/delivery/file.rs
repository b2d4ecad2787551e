//! The embedded default channel (SPEC.md): each email an `.eml` file under `outbox/email/`,
//! each SMS a JSON line in `outbox/sms.jsonl`. Written so that a killed run never writes the
//! same message twice: an email file is named by the message id and written by rename (a
//! retry replaces it with the same bytes); before appending an SMS that was attempted before,
//! the file is searched for its id.
//!
//! Lines are not synced one by one: a write() is in the kernel once it returns, so it survives
//! the process being killed, which is the failure the outbox guards against (the SQLite store
//! runs `synchronous=NORMAL` on the same reasoning). The file is synced once at the end of each
//! delivery pass, for a machine that loses power. Syncing every line made a catch-up run of
//! 173,000 SMS spend most of its four minutes in fsync.

use crate::store::schedule::OutboxMessage;
use std::fs::{self, OpenOptions};
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};

pub struct FileChannel {
    email_dir: PathBuf,
    sms_file: PathBuf,
}

impl FileChannel {
    pub fn new(dir: &Path) -> std::io::Result<FileChannel> {
        let email_dir = dir.join("email");
        fs::create_dir_all(&email_dir)?;
        Ok(FileChannel {
            email_dir,
            sms_file: dir.join("sms.jsonl"),
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
        f.write_all(format!("{line}\n").as_bytes())
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

    /// The email as an SMTP server would receive it (built by `delivery::email`).
    pub fn write_email(&self, m: &OutboxMessage, email: &[u8]) -> std::io::Result<()> {
        let path = self.email_dir.join(format!("{}.eml", m.id));
        let tmp = self.email_dir.join(format!(".{}.tmp", m.id));
        fs::write(&tmp, email)?;
        fs::rename(tmp, path)
    }
}
