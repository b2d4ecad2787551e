//! SMS text: unaccented by default so a Vietnamese reminder fits one GSM-7 message on a basic
//! phone (docs/domain.md §6: 160 characters, 153 per part; UCS-2 70, 67 per part).

use super::unaccent;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    Gsm7,
    Ucs2,
}

impl Encoding {
    pub fn as_str(self) -> &'static str {
        match self {
            Encoding::Gsm7 => "GSM-7",
            Encoding::Ucs2 => "UCS-2",
        }
    }
}

/// GSM 03.38 basic character set (one septet each) and its extension table (two septets).
const GSM7_BASIC: &str = "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà";
const GSM7_EXTENDED: &str = "^{}\\[~]|€\u{0c}";

/// Typographic punctuation GSM-7 lacks (one en dash would force the whole message to UCS-2
/// and triple its parts), in the nearest GSM-7 form.
fn plain_punctuation(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '–' | '—' | '‑' => out.push('-'),
            '‘' | '’' => out.push('\''),
            '“' | '”' => out.push('"'),
            '…' => out.push_str("..."),
            '\u{a0}' => out.push(' '),
            c => out.push(c),
        }
    }
    out
}

/// The text as it will be sent, its encoding and how many parts it takes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SmsText {
    pub body: String,
    pub encoding: Encoding,
    pub segments: u32,
}

/// Prepares SMS text. `unaccented` (the default) strips Vietnamese marks and maps đ→d, which
/// turns Vietnamese into GSM-7; otherwise the text keeps its marks and goes as UCS-2.
pub fn prepare(text: &str, unaccented: bool) -> SmsText {
    let body = if unaccented {
        plain_punctuation(&unaccent(text))
    } else {
        text.to_string()
    };
    let septets: Option<u32> = body
        .chars()
        .map(|c| {
            if GSM7_BASIC.contains(c) {
                Some(1)
            } else if GSM7_EXTENDED.contains(c) {
                Some(2)
            } else {
                None
            }
        })
        .sum();
    let (encoding, units, single, part) = match septets {
        Some(n) => (Encoding::Gsm7, n, 160, 153),
        // UCS-2 counts UTF-16 code units.
        None => (Encoding::Ucs2, body.encode_utf16().count() as u32, 70, 67),
    };
    let segments = if units <= single {
        1
    } else {
        units.div_ceil(part)
    };
    SmsText {
        body,
        encoding,
        segments,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unaccented_vietnamese_is_gsm7_and_counts_parts() {
        let t = prepare("Trạm Y tế phường Đống Đa nhắc: bé An đến hạn tiêm", true);
        assert_eq!(t.body, "Tram Y te phuong Dong Da nhac: be An den han tiem");
        assert_eq!((t.encoding, t.segments), (Encoding::Gsm7, 1));
        let t = prepare("Viêm não Nhật Bản – mũi 1 “sớm”…", true);
        assert_eq!(
            (t.body.as_str(), t.encoding),
            ("Viem nao Nhat Ban - mui 1 \"som\"...", Encoding::Gsm7)
        );
        assert_eq!(prepare(&"a".repeat(160), true).segments, 1);
        assert_eq!(prepare(&"a".repeat(161), true).segments, 2);
        assert_eq!(prepare(&"a".repeat(306), true).segments, 2);
        assert_eq!(prepare(&"a".repeat(307), true).segments, 3);
        assert_eq!(
            prepare(&"{".repeat(80), true).segments,
            1,
            "extension characters take two septets"
        );
        assert_eq!(prepare(&"{".repeat(81), true).segments, 2);
    }

    #[test]
    fn accented_text_goes_as_ucs2() {
        let t = prepare("Bé An đến hạn tiêm", false);
        assert_eq!(t.encoding, Encoding::Ucs2);
        assert_eq!(prepare(&"đ".repeat(70), false).segments, 1);
        assert_eq!(prepare(&"đ".repeat(71), false).segments, 2);
    }
}
