//! Vietnamese text helpers. Unicode NFD plus dropping marks does not turn đ/Đ into d/D
//! (docs/domain.md §6), and a basic phone's SMS wants plain ASCII letters, so the mapping is explicit.

pub mod sms;

const GROUPS: [(&str, char); 14] = [
    ("àáảãạăằắẳẵặâầấẩẫậ", 'a'),
    ("ÀÁẢÃẠĂẰẮẲẴẶÂẦẤẨẪẬ", 'A'),
    ("èéẻẽẹêềếểễệ", 'e'),
    ("ÈÉẺẼẸÊỀẾỂỄỆ", 'E'),
    ("ìíỉĩị", 'i'),
    ("ÌÍỈĨỊ", 'I'),
    ("òóỏõọôồốổỗộơờớởỡợ", 'o'),
    ("ÒÓỎÕỌÔỒỐỔỖỘƠỜỚỞỠỢ", 'O'),
    ("ùúủũụưừứửữự", 'u'),
    ("ÙÚỦŨỤƯỪỨỬỮỰ", 'U'),
    ("ỳýỷỹỵ", 'y'),
    ("ỲÝỶỸỴ", 'Y'),
    ("đ", 'd'),
    ("Đ", 'D'),
];

/// Strips Vietnamese diacritics from precomposed (NFC) text: "Nguyễn Thị Đào" → "Nguyen Thi Dao".
/// Characters outside the Vietnamese alphabet pass through unchanged.
pub fn unaccent(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_ascii() {
                return c;
            }
            GROUPS
                .iter()
                .find(|(group, _)| group.contains(c))
                .map(|&(_, base)| base)
                .unwrap_or(c)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strips_every_tone_and_maps_d_bar() {
        assert_eq!(unaccent("Nguyễn Thị Đào"), "Nguyen Thi Dao");
        assert_eq!(unaccent("Trạm Y tế xã Hưng Đạo"), "Tram Y te xa Hung Dao");
        assert_eq!(unaccent("ỹ Ỵ ữ ợ ẫ"), "y Y u o a");
        let accented: String = GROUPS.iter().map(|(g, _)| *g).collect();
        assert!(unaccent(&accented).is_ascii());
    }
}
