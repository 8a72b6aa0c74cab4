//! Scrubs personal data out of text that came from outside, before it is logged.
//!
//! Providers explain failures in their own words, and those words often quote the
//! recipient ("550 5.1.1 <amina@example.org>: Recipient address rejected", "Invalid 'To'
//! Phone Number: +2547..."). Logs must never hold an address, so every provider reason
//! passes through [`provider_reason`] first.

/// Replaces anything that looks like an email address with `[address]` and any run of
/// seven or more digits (with `+`, spaces, dots or dashes between them) with `[number]`,
/// and caps the length so a chatty provider cannot flood the log.
pub fn provider_reason(reason: &str) -> String {
    let words: Vec<String> = reason
        .split(' ')
        .map(|word| {
            if word.contains('@') {
                "[address]".to_string()
            } else {
                word.to_string()
            }
        })
        .collect();
    let text = words.join(" ");
    let mut out = String::with_capacity(text.len());
    let chars: Vec<char> = text.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        let (end, digits) = number_run(&chars, i);
        if digits >= 7 {
            out.push_str("[number]");
            i = end;
        } else {
            out.push(chars[i]);
            i += 1;
        }
    }
    out.chars().take(300).collect()
}

/// From `start`, the end of a phone-number-like run and how many digits it holds. A run
/// starts with a digit or `+` and may hold single separators between digits.
fn number_run(chars: &[char], start: usize) -> (usize, usize) {
    let first = chars[start];
    if !(first.is_ascii_digit() || first == '+') {
        return (start, 0);
    }
    let mut digits = 0;
    let mut end = start;
    let mut i = start;
    while i < chars.len() {
        let c = chars[i];
        if c.is_ascii_digit() {
            digits += 1;
            i += 1;
            end = i;
        } else if (c == '+' && i == start)
            || (matches!(c, ' ' | '-' | '.' | '(' | ')')
                && chars.get(i + 1).is_some_and(|n| n.is_ascii_digit()))
        {
            i += 1;
        } else {
            break;
        }
    }
    (end, digits)
}

#[cfg(test)]
mod tests {
    use super::provider_reason;

    #[test]
    fn addresses_and_phone_numbers_are_replaced() {
        assert_eq!(
            provider_reason("smtp recipient refused: 550 5.1.1 <amina@example.org>: no such user"),
            "smtp recipient refused: 550 5.1.1 [address] no such user"
        );
        assert_eq!(
            provider_reason("Invalid 'To' Phone Number: +254 712 345 678"),
            "Invalid 'To' Phone Number: [number]"
        );
        assert_eq!(
            provider_reason("kannel: 3 failed for 0712-345-678"),
            "kannel: 3 failed for [number]"
        );
    }

    #[test]
    fn codes_and_short_numbers_stay_readable() {
        let reason = "smtp DATA: 451 4.3.0 try again in 300 seconds (code 21211)";
        assert_eq!(provider_reason(reason), reason);
    }

    #[test]
    fn long_reasons_are_capped() {
        assert_eq!(provider_reason(&"x".repeat(1000)).chars().count(), 300);
    }
}
