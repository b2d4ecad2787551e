//! A reader in front of the CSV parser that never lets one record grow past a limit. The csv
//! crate keeps a whole record in memory, so a 1 GB line (or a stray `"` that never closes,
//! which turns the rest of the file into one field) cost gigabytes and was copied into the
//! error report. Here a record longer than the limit is cut: what follows up to the end of
//! its physical line is skipped unread, and the record is closed with [`CUT_MARK`] in its last
//! field, so the importer reports it at its line ("line longer than …") and carries on.
//!
//! To know where a record ends it follows CSV quoting the way csv-core does (quotes open only
//! at the start of a field, `""` inside quotes, `\r` or `\n` ending a record).

use std::io::{self, Read};

/// Longest record the importer reads, in bytes. A citizen row is about 200 bytes; 64 KiB leaves
/// room for anything real.
pub const MAX_LINE_BYTES: usize = 64 * 1024;

/// Ends the last field of a cut record. NUL is refused in every text field, so no real row is
/// mistaken for a cut one (a row forging this mark is refused either way).
pub const CUT_MARK: &[u8] = b"\0vongdoi:line-too-long\0";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Csv {
    FieldStart,
    InField,
    InQuotes,
    QuoteInQuotes,
}

pub struct LineLimit<R> {
    inner: R,
    limit: usize,
    buf: Box<[u8]>,
    start: usize,
    end: usize,
    state: Csv,
    /// Bytes of the current record passed on so far.
    record: usize,
    /// Dropping input up to the next `\n`.
    skipping: bool,
    /// Bytes to hand out before any more input (the mark closing a cut record).
    pending: Vec<u8>,
    pending_at: usize,
    /// A `\r` seen and not yet passed on: dropped if a `\n` follows.
    held_cr: bool,
}

impl<R: Read> LineLimit<R> {
    pub fn new(inner: R, limit: usize) -> LineLimit<R> {
        LineLimit {
            inner,
            limit,
            buf: vec![0; 64 * 1024].into_boxed_slice(),
            start: 0,
            end: 0,
            state: Csv::FieldStart,
            record: 0,
            skipping: false,
            pending: Vec::new(),
            pending_at: 0,
            held_cr: false,
        }
    }

    /// Moves the CSV state over one byte; true when the byte ends a record.
    fn step(&mut self, b: u8) -> bool {
        let (next, ends) = match (self.state, b) {
            (Csv::InQuotes, b'"') => (Csv::QuoteInQuotes, false),
            (Csv::InQuotes, _) => (Csv::InQuotes, false),
            (Csv::QuoteInQuotes, b'"') => (Csv::InQuotes, false),
            (Csv::FieldStart, b'"') => (Csv::InQuotes, false),
            (_, b',') => (Csv::FieldStart, false),
            (_, b'\r' | b'\n') => (Csv::FieldStart, true),
            _ => (Csv::InField, false),
        };
        self.state = next;
        ends
    }

    /// Passes one byte on, or cuts the record when it is full (false: nothing passed).
    fn forward(&mut self, b: u8, out: &mut [u8], n: &mut usize) -> bool {
        let ends_here = self.state != Csv::InQuotes && matches!(b, b'\r' | b'\n');
        if self.record >= self.limit && !ends_here {
            self.cut();
            return false;
        }
        out[*n] = b;
        *n += 1;
        self.record += 1;
        if self.step(b) {
            self.record = 0;
        }
        true
    }

    /// Closes the record being cut so that csv-core ends it here, whatever its state.
    fn cut(&mut self) {
        self.pending.clear();
        self.pending.extend_from_slice(CUT_MARK);
        if self.state == Csv::InQuotes {
            self.pending.push(b'"');
        }
        self.pending.push(b'\n');
        self.pending_at = 0;
        self.skipping = true;
        self.held_cr = false;
    }
}

impl<R: Read> Read for LineLimit<R> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        if out.is_empty() {
            return Ok(0);
        }
        loop {
            if self.pending_at < self.pending.len() {
                let rest = &self.pending[self.pending_at..];
                let n = rest.len().min(out.len());
                out[..n].copy_from_slice(&rest[..n]);
                self.pending_at += n;
                return Ok(n);
            }
            if self.start == self.end {
                let n = match self.inner.read(&mut self.buf) {
                    Ok(n) => n,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                    Err(e) => return Err(e),
                };
                if n == 0 {
                    if std::mem::take(&mut self.held_cr) {
                        out[0] = b'\r';
                        return Ok(1);
                    }
                    return Ok(0);
                }
                (self.start, self.end) = (0, n);
            }
            if self.skipping {
                let avail = &self.buf[self.start..self.end];
                match avail.iter().position(|&b| b == b'\n') {
                    Some(i) => {
                        // The newline itself went out at the end of the mark: line numbers
                        // stay those of the file.
                        self.start += i + 1;
                        self.skipping = false;
                        self.state = Csv::FieldStart;
                        self.record = 0;
                    }
                    None => self.start = self.end,
                }
                continue;
            }
            let mut n = 0;
            while n < out.len() && self.start < self.end {
                let b = self.buf[self.start];
                // `\r\n` goes on as `\n`: csv counts lines by `\n` and starts a record
                // after `\r\n` on the line of the `\r`, so every problem in a file saved
                // by Excel on Windows was reported one line early.
                if std::mem::take(&mut self.held_cr)
                    && b != b'\n'
                    && !self.forward(b'\r', out, &mut n)
                {
                    break;
                }
                if n == out.len() {
                    break;
                }
                if b == b'\r' {
                    self.held_cr = true;
                    self.start += 1;
                    continue;
                }
                if !self.forward(b, out, &mut n) {
                    break;
                }
                self.start += 1;
            }
            if n > 0 {
                return Ok(n);
            }
        }
    }
}

/// Whether a record read through [`LineLimit`] was cut.
pub fn was_cut(record: &csv::ByteRecord) -> bool {
    record
        .iter()
        .next_back()
        .is_some_and(|field| field.ends_with(CUT_MARK))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// (line, fields) of every record, as the importer reads them.
    fn records(input: &[u8], limit: usize) -> Vec<(u64, Vec<String>, bool)> {
        let mut r = csv::ReaderBuilder::new()
            .has_headers(false)
            .flexible(true)
            .from_reader(LineLimit::new(input, limit));
        let mut out = Vec::new();
        let mut rec = csv::ByteRecord::new();
        while r.read_byte_record(&mut rec).unwrap() {
            let fields = rec
                .iter()
                .map(|f| String::from_utf8_lossy(f).into_owned())
                .collect();
            out.push((rec.position().unwrap().line(), fields, was_cut(&rec)));
        }
        out
    }

    #[test]
    fn short_records_pass_unchanged() {
        let input = b"a,b\n\"x\ny\",\"q\"\"q\"\r\nlast,1";
        let got = records(input, 64);
        assert_eq!(got.len(), 3);
        assert_eq!(got[1].1, vec!["x\ny", "q\"q"]);
        assert!(got.iter().all(|r| !r.2));
        assert_eq!(got.iter().map(|r| r.0).collect::<Vec<_>>(), vec![1, 2, 4]);
    }

    #[test]
    fn crlf_files_are_numbered_as_their_lines() {
        let lf = "h,1\na,2\n\"b\nb\",3\nc,4\nd,5";
        let crlf = lf.replace('\n', "\r\n");
        let (lf, crlf) = (records(lf.as_bytes(), 64), records(crlf.as_bytes(), 64));
        assert_eq!(crlf, lf);
        let lines: Vec<u64> = lf.iter().map(|r| r.0).collect();
        assert_eq!(lines, vec![1, 2, 3, 5, 6]);
        // A lone CR still ends a record; one at the very end is passed on.
        let cr = records(b"a,1\rb,2\r", 64);
        assert_eq!(
            cr.iter().map(|r| r.1.clone()).collect::<Vec<_>>(),
            vec![vec!["a", "1"], vec!["b", "2"]]
        );
    }

    #[test]
    fn a_long_line_is_cut_and_the_next_lines_keep_their_numbers() {
        for long in [
            format!("1,{}\n", "x".repeat(5000)),
            format!("1,\"{}\n", "x".repeat(5000)),
            format!("1,\"{}\"\"{}\n", "x".repeat(30), "y".repeat(5000)),
            format!("{},2\n", "z".repeat(5000)),
        ] {
            let input = format!("a,b\n{long}c,d\ne,f\n");
            let got = records(input.as_bytes(), 100);
            let lines: Vec<(u64, bool)> = got.iter().map(|r| (r.0, r.2)).collect();
            assert_eq!(
                lines,
                vec![(1, false), (2, true), (3, false), (4, false)],
                "{long:.40}"
            );
            assert_eq!(got[2].1, vec!["c", "d"]);
        }
    }

    #[test]
    fn an_unclosed_quote_cannot_swallow_the_file() {
        let mut input = String::from("a,\"never closed\n");
        for i in 0..1000 {
            input.push_str(&format!("{i},row\n"));
        }
        let got = records(input.as_bytes(), 256);
        // The open quote swallows lines up to the limit, then reading resumes.
        assert!(got[0].2);
        assert!(got.len() > 900, "{}", got.len());
        assert_eq!(got.last().unwrap().1, vec!["999", "row"]);
        assert_eq!(got.last().unwrap().0, 1001);
    }

    #[test]
    fn memory_stays_bounded_on_a_huge_line() {
        struct Endless(u64);
        impl Read for Endless {
            fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
                if self.0 == 0 {
                    let tail = b"\nok,1\n";
                    let n = tail.len().min(out.len());
                    out[..n].copy_from_slice(&tail[..n]);
                    self.0 = u64::MAX;
                    return Ok(n);
                }
                if self.0 == u64::MAX {
                    return Ok(0);
                }
                let n = (out.len() as u64).min(self.0) as usize;
                out[..n].fill(b'x');
                self.0 -= n as u64;
                Ok(n)
            }
        }
        let mut r = csv::ReaderBuilder::new()
            .has_headers(false)
            .flexible(true)
            .from_reader(LineLimit::new(Endless(200 << 20), 1024));
        let mut rec = csv::ByteRecord::new();
        assert!(r.read_byte_record(&mut rec).unwrap());
        assert!(was_cut(&rec));
        assert!(rec.as_slice().len() < 2048);
        assert!(r.read_byte_record(&mut rec).unwrap());
        assert_eq!(&rec[0], b"ok");
    }
}
