//! Escaping for the XML the exports write by hand (XES, BPMN): the formats are small and fixed,
//! so a writer of a few lines beats a dependency.

/// `text` as XML character data or an attribute value in double quotes: markup characters
/// escaped, and characters XML 1.0 does not allow (most control characters) replaced by a space,
/// so that no name in a definition can break the document.
pub(crate) fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            // Tab, newline and carriage return are legal but attribute-value normalisation would
            // turn them into spaces anyway; keep them as references so they survive.
            '\t' => out.push_str("&#9;"),
            '\n' => out.push_str("&#10;"),
            '\r' => out.push_str("&#13;"),
            c if c < ' ' || matches!(c, '\u{FFFE}' | '\u{FFFF}') => out.push(' '),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::escape;

    #[test]
    fn markup_and_illegal_characters_cannot_break_a_document() {
        assert_eq!(escape("a<b>&\"c'"), "a&lt;b&gt;&amp;&quot;c&apos;");
        assert_eq!(escape("x\u{1}y\u{FFFF}"), "x y ");
        assert_eq!(escape("行\n政"), "行&#10;政");
        let doc = format!("<r a=\"{}\">{}</r>", escape("\"/><evil x=\""), escape("</r><evil/>"));
        let parsed = roxmltree::Document::parse(&doc).expect("well-formed");
        assert_eq!(parsed.root_element().attribute("a"), Some("\"/><evil x=\""));
        assert_eq!(parsed.root_element().children().count(), 1, "one text node, no element");
    }
}
