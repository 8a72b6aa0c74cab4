//! GSM 03.38 7-bit default alphabet: whether a text can travel as GSM-7 (160 characters a
//! segment) or needs UCS-2 (70), which decides the coding Kannel is asked for, and how
//! many segments (billed SMS) a text takes.
//!
//! Segments: GSM-7 fits 160 septets in one SMS, and 153 per part once a text is split
//! (the concatenation header takes 7); an extension character (`€`, `[`, ...) takes two
//! septets and is never split across parts. UCS-2 fits 70 UTF-16 units, 67 per part,
//! and a surrogate pair (most emoji) is never split.

const BASIC: &str = "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞ\u{1b}ÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà";
/// Characters of the extension table (sent as escape + character).
const EXTENSION: &str = "^{}\\[~]|€\u{c}";

pub fn is_gsm7(text: &str) -> bool {
    text.chars()
        .all(|c| BASIC.contains(c) || EXTENSION.contains(c))
}

/// How an SMS text travels.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Encoding {
    Gsm7,
    Ucs2,
}

/// The encoding a text needs and the number of SMS it takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Segments {
    pub encoding: Encoding,
    pub count: usize,
}

/// Counts the SMS `text` takes.
pub fn segments(text: &str) -> Segments {
    if is_gsm7(text) {
        let units: Vec<usize> = text
            .chars()
            .map(|c| if EXTENSION.contains(c) { 2 } else { 1 })
            .collect();
        Segments {
            encoding: Encoding::Gsm7,
            count: count_parts(&units, 160, 153),
        }
    } else {
        let units: Vec<usize> = text.chars().map(char::len_utf16).collect();
        Segments {
            encoding: Encoding::Ucs2,
            count: count_parts(&units, 70, 67),
        }
    }
}

/// Parts needed for characters of the given unit sizes, none split across parts.
fn count_parts(units: &[usize], single: usize, per_part: usize) -> usize {
    let total: usize = units.iter().sum();
    if total <= single {
        return 1;
    }
    let mut parts = 1;
    let mut used = 0;
    for &u in units {
        if used + u > per_part {
            parts += 1;
            used = 0;
        }
        used += u;
    }
    parts
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn segments_follow_the_gsm_and_ucs2_limits() {
        let gsm = |n: usize| segments(&"a".repeat(n));
        assert_eq!(
            gsm(160),
            Segments {
                encoding: Encoding::Gsm7,
                count: 1
            }
        );
        assert_eq!(gsm(161).count, 2);
        assert_eq!(gsm(306).count, 2);
        assert_eq!(gsm(307).count, 3);
        // 80 euro signs are 160 septets: one SMS; one more character makes two.
        assert_eq!(segments(&"€".repeat(80)).count, 1);
        assert_eq!(segments(&format!("{}a", "€".repeat(80))).count, 2);
        // An extension character does not straddle two parts: 152 + € needs a new part.
        assert_eq!(
            segments(&format!("{}€{}", "a".repeat(152), "a".repeat(10))).count,
            2
        );
        assert_eq!(
            segments(&format!("{}€{}", "a".repeat(152), "a".repeat(152))).count,
            3
        );
        let ucs = |n: usize| segments(&"я".repeat(n));
        assert_eq!(
            ucs(70),
            Segments {
                encoding: Encoding::Ucs2,
                count: 1
            }
        );
        assert_eq!(ucs(71).count, 2);
        assert_eq!(ucs(134).count, 2);
        assert_eq!(ucs(135).count, 3);
        // Emoji are surrogate pairs: 35 fit one SMS.
        assert_eq!(segments(&"👍".repeat(35)).count, 1);
        assert_eq!(segments(&"👍".repeat(36)).count, 2);
    }

    #[test]
    fn latin_text_is_gsm7() {
        assert!(is_gsm7("Clinic tomorrow 9:00, bring card #12 (€5) [ok]"));
        assert!(is_gsm7("Åse Müller, ¿qué?"));
        assert!(!is_gsm7("¿dónde está?")); // ó and á are not GSM-7
    }

    #[test]
    fn other_scripts_and_emoji_are_not() {
        assert!(!is_gsm7("Привет"));
        assert!(!is_gsm7("नमस्ते"));
        assert!(!is_gsm7("ok 👍"));
        assert!(!is_gsm7("façade")); // ç (lowercase) is not in the alphabet, Ç is
    }
}
