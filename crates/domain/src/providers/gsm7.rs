//! GSM 03.38 7-bit default alphabet: whether a text can travel as GSM-7 (160 characters a
//! segment) or needs UCS-2 (70), which decides the coding Kannel is asked for.

const BASIC: &str = "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞ\u{1b}ÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà";
/// Characters of the extension table (sent as escape + character).
const EXTENSION: &str = "^{}\\[~]|€\u{c}";

pub fn is_gsm7(text: &str) -> bool {
    text.chars()
        .all(|c| BASIC.contains(c) || EXTENSION.contains(c))
}

#[cfg(test)]
mod tests {
    use super::*;

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
