//! What the synthetic registry is drawn from: family, middle and given names by frequency,
//! mobile prefixes, mothers' ages at birth, and the ages at which families actually brought
//! their children for each dose.

pub(super) const FAMILY_NAMES: [(&str, u32); 16] = [
    ("Nguyễn", 380),
    ("Trần", 110),
    ("Lê", 95),
    ("Phạm", 70),
    ("Hoàng", 30),
    ("Huỳnh", 21),
    ("Phan", 45),
    ("Vũ", 25),
    ("Võ", 14),
    ("Đặng", 21),
    ("Bùi", 20),
    ("Đỗ", 14),
    ("Hồ", 13),
    ("Ngô", 13),
    ("Dương", 10),
    ("Lý", 5),
];
pub(super) const MIDDLE_MALE: [&str; 9] = [
    "Văn", "Văn", "Hữu", "Đức", "Minh", "Quang", "Thành", "Công", "Xuân",
];
pub(super) const MIDDLE_FEMALE: [&str; 8] = [
    "Thị", "Thị", "Thị", "Ngọc", "Thu", "Thanh", "Hồng", "Phương",
];
pub(super) const GIVEN_MALE: [&str; 28] = [
    "An", "Bình", "Cường", "Dũng", "Hùng", "Hải", "Huy", "Khánh", "Long", "Minh", "Nam", "Phong",
    "Quân", "Sơn", "Thắng", "Trung", "Tuấn", "Việt", "Đạt", "Hoàng", "Kiên", "Lâm", "Nhật", "Phúc",
    "Thịnh", "Vinh", "Khôi", "Đức",
];
pub(super) const GIVEN_FEMALE: [&str; 28] = [
    "Anh", "Chi", "Dung", "Giang", "Hà", "Hạnh", "Hoa", "Hương", "Lan", "Linh", "Mai", "Ngọc",
    "Nhung", "Oanh", "Phương", "Quỳnh", "Thảo", "Trang", "Uyên", "Vân", "Yến", "Hằng", "Thủy",
    "Huyền", "Nga", "My", "Ánh", "Diệp",
];
pub(super) const MOBILE_PREFIXES: [&str; 12] = [
    "096", "097", "098", "086", "032", "035", "091", "094", "088", "090", "093", "070",
];

/// Share of women by age band 20–24 … 60–64 who head a family household here; tuned so the
/// whole registry's pyramid lands close to Vietnam's (0–14 ≈ 23 %, 60+ ≈ 14 %).
pub(super) const MOTHER_AGE_WEIGHTS: [(u32, u32); 9] = [
    (20, 55),
    (25, 95),
    (30, 110),
    (35, 105),
    (40, 90),
    (45, 75),
    (50, 55),
    (55, 40),
    (60, 25),
];

/// What families actually did, in days from birth (not the rules: the rule engine judges these).
/// (vaccine, age in days on an on-time schedule).
pub(super) const TYPICAL_DOSES: [(&str, i64); 19] = [
    ("HEPB", 0),
    ("BCG", 3),
    ("PENTA", 61),
    ("OPV", 61),
    ("ROTA", 61),
    ("PENTA", 91),
    ("OPV", 91),
    ("ROTA", 91),
    ("PENTA", 122),
    ("OPV", 122),
    ("IPV", 152),
    ("MEASLES", 274),
    ("IPV", 274),
    ("JE", 365),
    ("JE", 372),
    ("DTP", 548),
    ("MR", 548),
    ("JE", 730),
    ("TD", 2557),
];
