//! Person to government: what a citizen's inbound message means.
//!
//! An inbound text is, in this order: an opt-out (STOP and its translations), an opt-in
//! (START), the answer to a reminder that is waiting for one, or a keyword for the routes
//! in `policies/inbound/routes.toml`. Matching is case, accent and punctuation tolerant,
//! because people type "Stop.", "stop" and "ARRÊT".

/// Words that end non-emergency messages to the sender on that channel. English, French,
/// Spanish, Portuguese, Swahili, German, Arabic: the languages of the countries the
/// GovStack pilots serve; add more here, upper case, without accents.
const OPT_OUT: &[&str] = &[
    "STOP",
    "STOPALL",
    "UNSUBSCRIBE",
    "CANCEL",
    "END",
    "QUIT",
    "OPTOUT",
    "ARRET",
    "DESABONNER",
    "PARAR",
    "BAJA",
    "ALTO",
    "SAIR",
    "CANCELAR",
    "ACHA",
    "SITISHA",
    "ABMELDEN",
    "توقف",
    "الغاء",
];

/// Words that undo an opt-out.
const OPT_IN: &[&str] = &[
    "START",
    "UNSTOP",
    "SUBSCRIBE",
    "DEMARRER",
    "REPRENDRE",
    "INICIAR",
    "ALTA",
    "ANZA",
    "ANMELDEN",
    "ابدأ",
];

/// Words that join a group by its keyword (`JOIN MOTHERS`).
const JOIN: &[&str] = &[
    "JOIN",
    "SUBSCRIBE",
    "JIUNGE",
    "REJOINDRE",
    "UNIRSE",
    "ENTRAR",
    "انضم",
];
/// Words that leave a group by its keyword (`LEAVE MOTHERS`).
const LEAVE: &[&str] = &[
    "LEAVE",
    "UNSUBSCRIBE",
    "JITOE",
    "QUITTER",
    "SALIR",
    "SAIR",
    "غادر",
];

/// Common translations of YES and NO, for reminders whose options are YES and NO.
const YES: &[&str] = &["YES", "Y", "OUI", "SI", "SIM", "NDIO", "NDIYO", "JA", "نعم"];
const NO: &[&str] = &["NO", "N", "NON", "NAO", "HAPANA", "NEIN", "لا"];

/// What an inbound text asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Intent {
    OptOut,
    OptIn,
    /// `JOIN <keyword>`: become a member of the group with that keyword.
    Join {
        keyword: String,
    },
    /// `LEAVE <keyword>`: stop being one.
    Leave {
        keyword: String,
    },
    /// One of the waiting reminder's options, as the reminder spelt it.
    Answer(String),
    /// Anything else; its first word (normalised) is the keyword for routing.
    Message {
        keyword: String,
    },
}

/// Upper case, accents folded, surrounding punctuation trimmed: "Arrêt!" → "ARRET".
pub fn normalize_word(word: &str) -> String {
    word.trim_matches(|c: char| !c.is_alphanumeric())
        .chars()
        .flat_map(char::to_uppercase)
        .map(fold_accent)
        .collect()
}

fn fold_accent(c: char) -> char {
    match c {
        'À' | 'Á' | 'Â' | 'Ã' | 'Ä' | 'Å' => 'A',
        'Ç' => 'C',
        'È' | 'É' | 'Ê' | 'Ë' => 'E',
        'Ì' | 'Í' | 'Î' | 'Ï' => 'I',
        'Ñ' => 'N',
        'Ò' | 'Ó' | 'Ô' | 'Õ' | 'Ö' => 'O',
        'Ù' | 'Ú' | 'Û' | 'Ü' => 'U',
        other => other,
    }
}

/// Classifies `text`. `options` are the answers the sender's waiting reminder accepts, if
/// one is waiting.
pub fn classify(text: &str, options: Option<&[String]>) -> Intent {
    let words: Vec<String> = text
        .split_whitespace()
        .map(normalize_word)
        .filter(|w| !w.is_empty())
        .collect();
    let first = words.first().cloned().unwrap_or_default();
    // A lone control word; "stop the rain" is a message, not an opt-out.
    if words.len() == 1 && OPT_OUT.contains(&first.as_str()) {
        return Intent::OptOut;
    }
    if words.len() == 1 && OPT_IN.contains(&first.as_str()) {
        return Intent::OptIn;
    }
    // Exactly two words: "join us at the clinic" is a message.
    if words.len() == 2 {
        let keyword = words[1].clone();
        if JOIN.contains(&first.as_str()) {
            return Intent::Join { keyword };
        }
        if LEAVE.contains(&first.as_str()) {
            return Intent::Leave { keyword };
        }
    }
    if let Some(options) = options
        && let Some(answer) = match_option(&first, options)
    {
        return Intent::Answer(answer);
    }
    Intent::Message { keyword: first }
}

/// The option `word` chooses: the option itself, its position ("1" for the first), or a
/// translation of YES or NO when the option is YES or NO.
fn match_option(word: &str, options: &[String]) -> Option<String> {
    if let Ok(n) = word.parse::<usize>() {
        return n.checked_sub(1).and_then(|i| options.get(i)).cloned();
    }
    options
        .iter()
        .find(|option| {
            let option = normalize_word(option);
            option == word
                || (option == "YES" && YES.contains(&word))
                || (option == "NO" && NO.contains(&word))
        })
        .cloned()
}

/// What the citizen is told after STOP or START (on the same channel).
pub fn acknowledgement(intent: &Intent) -> Option<&'static str> {
    match intent {
        Intent::OptOut => Some(
            "You will receive no more messages from this service, except emergency alerts. Reply START to subscribe again.",
        ),
        Intent::OptIn => Some("You are subscribed again. Reply STOP to unsubscribe."),
        Intent::Join { .. } => Some("You have joined. Reply LEAVE and the same word to leave."),
        Intent::Leave { .. } => Some("You have left. Reply JOIN and the same word to join again."),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn yes_no() -> Vec<String> {
        vec!["YES".into(), "NO".into()]
    }

    #[test]
    fn stop_and_its_translations_opt_out_in_any_case_and_punctuation() {
        for text in [
            "STOP",
            "stop",
            " Stop. ",
            "Arrêt",
            "PARAR",
            "acha",
            "Unsubscribe!",
            "توقف",
        ] {
            assert_eq!(classify(text, None), Intent::OptOut, "{text}");
        }
        for text in ["START", "start", "Démarrer", "anza"] {
            assert_eq!(classify(text, None), Intent::OptIn, "{text}");
        }
    }

    #[test]
    fn join_and_leave_take_exactly_a_keyword() {
        assert_eq!(
            classify("Join mothers", None),
            Intent::Join {
                keyword: "MOTHERS".into()
            }
        );
        assert_eq!(
            classify("jiunge Mamá!", None),
            Intent::Join {
                keyword: "MAMA".into()
            }
        );
        assert_eq!(
            classify("LEAVE MOTHERS", None),
            Intent::Leave {
                keyword: "MOTHERS".into()
            }
        );
        assert!(matches!(
            classify("join us at the clinic", None),
            Intent::Message { .. }
        ));
        assert_eq!(classify("unsubscribe", None), Intent::OptOut, "alone: STOP");
    }

    #[test]
    fn a_sentence_that_starts_with_stop_is_a_message() {
        assert_eq!(
            classify("stop sending me the wrong clinic", None),
            Intent::Message {
                keyword: "STOP".into()
            }
        );
    }

    #[test]
    fn answers_match_options_by_word_translation_or_number() {
        let options = yes_no();
        for (text, answer) in [
            ("yes", "YES"),
            ("Oui!", "YES"),
            ("ndio nitakuja", "YES"),
            ("sí", "YES"),
            ("Hapana", "NO"),
            ("não", "NO"),
            ("2", "NO"),
        ] {
            assert_eq!(
                classify(text, Some(&options)),
                Intent::Answer(answer.into()),
                "{text}"
            );
        }
        let options = vec!["Monday".to_string(), "Tuesday".to_string()];
        assert_eq!(
            classify("tuesday please", Some(&options)),
            Intent::Answer("Tuesday".into())
        );
        assert_eq!(
            classify("3", Some(&options)),
            Intent::Message {
                keyword: "3".into()
            }
        );
    }

    #[test]
    fn without_a_waiting_reminder_yes_is_a_keyword() {
        assert_eq!(
            classify("yes", None),
            Intent::Message {
                keyword: "YES".into()
            }
        );
        assert_eq!(
            classify("register 1990-01-01", None),
            Intent::Message {
                keyword: "REGISTER".into()
            }
        );
        assert_eq!(
            classify("   ", None),
            Intent::Message {
                keyword: String::new()
            }
        );
    }
}
