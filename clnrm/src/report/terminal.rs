//! Text from elsewhere (an LLM's answer, a service's log lines, a step's output) made safe to put
//! in front of a person: control characters could retitle, clear or beep the terminal, move the
//! cursor over earlier lines, or hide text.

use std::borrow::Cow;
use std::sync::OnceLock;

use regex::Regex;

fn escape_sequence() -> &'static Regex {
    static RE: OnceLock<Regex> = OnceLock::new();
    RE.get_or_init(|| {
        // CSI (`ESC [ ... final`), OSC (`ESC ] ... BEL` or `ESC ] ... ESC \`), other
        // two-character escapes; and their 8-bit forms (U+009B CSI, U+009D OSC).
        Regex::new(
            r"(?x)
              (?:\x1b\[|\u{9b})[0-?]*[\x20-/]*[@-~]
            | (?:\x1b\]|\u{9d})[^\x07\x1b\u{9c}]*(?:\x07|\x1b\\|\u{9c})?
            | \x1b[\x20-/]*[0-~]?
            ",
        )
        .expect("the escape sequence pattern compiles")
    })
}

/// `text` without terminal escape sequences and control characters (C0 but newline and tab, DEL,
/// C1). Borrowed when there is nothing to remove.
pub fn printable(text: &str) -> Cow<'_, str> {
    let is_control = |c: char| c.is_control() && c != '\n' && c != '\t';
    if !text.chars().any(is_control) {
        return Cow::Borrowed(text);
    }
    let without_sequences = escape_sequence().replace_all(text, "");
    Cow::Owned(
        without_sequences
            .chars()
            .filter(|c| !is_control(*c))
            .collect(),
    )
}

/// A message on its way to a report or a terminal: known secrets masked
/// ([`crate::secrets::mask`]) and control characters removed ([`printable`]).
pub fn clean_message(message: Option<String>) -> Option<String> {
    message.map(|m| printable(&crate::secrets::mask(&m)).into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_and_controls_are_removed_and_plain_text_kept() {
        let hostile = "ok\x1b]0;pwned title\x07 \x1b[2J\x1b[1;1Hcleared\x07\x08 \u{9b}31mred\r\nnext\tcol\x7f";
        assert_eq!(printable(hostile), "ok cleared red\nnext\tcol");
        assert!(matches!(printable("plain\ntext"), Cow::Borrowed(_)));
        assert_eq!(
            printable("\x1b]8;;http://x\x1b\\link\x1b]8;;\x1b\\"),
            "link"
        );
    }
}
