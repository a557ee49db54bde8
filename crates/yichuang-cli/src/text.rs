//! Plain-text layout: terminal display width (CJK counts double) and aligned tables.

use yichuang_core::time::Weekday;

/// Columns a character takes in a terminal: 2 for East Asian wide and fullwidth characters
/// (汉字, fullwidth punctuation such as `（`), 1 otherwise. Ambiguous-width characters such as
/// `–` and `→` count 1, as in most Chinese terminals configured for UTF-8.
pub fn char_width(c: char) -> usize {
    let wide = matches!(u32::from(c),
        0x1100..=0x115F
        | 0x2E80..=0x303E
        | 0x3041..=0x33FF
        | 0x3400..=0x4DBF
        | 0x4E00..=0x9FFF
        | 0xA000..=0xA4CF
        | 0xAC00..=0xD7A3
        | 0xF900..=0xFAFF
        | 0xFE30..=0xFE4F
        | 0xFF00..=0xFF60
        | 0xFFE0..=0xFFE6
        | 0x1F300..=0x1F64F
        | 0x1F900..=0x1F9FF
        | 0x20000..=0x3FFFD);
    if wide { 2 } else { 1 }
}

/// Columns a string takes in a terminal.
pub fn display_width(text: &str) -> usize {
    text.chars().map(char_width).sum()
}

/// `text` followed by spaces up to `width` columns (never truncated).
pub fn pad(text: &str, width: usize) -> String {
    let mut out = String::from(text);
    out.extend(std::iter::repeat_n(' ', width.saturating_sub(display_width(text))));
    out
}

/// A table of text cells rendered with columns aligned by display width.
#[derive(Debug, Default)]
pub struct Table {
    rows: Vec<Vec<String>>,
}

impl Table {
    /// A table whose first row is `header`.
    pub fn new<S: Into<String>>(header: impl IntoIterator<Item = S>) -> Table {
        let mut table = Table::default();
        table.row(header);
        table
    }

    /// Appends a row.
    pub fn row<S: Into<String>>(&mut self, cells: impl IntoIterator<Item = S>) {
        self.rows.push(cells.into_iter().map(Into::into).collect());
    }

    /// The rows, each indented by `indent` spaces and ending in a newline; columns are separated
    /// by two spaces and trailing spaces are trimmed.
    pub fn render(&self, indent: usize) -> String {
        let columns = self.rows.iter().map(Vec::len).max().unwrap_or(0);
        let widths: Vec<usize> = (0..columns)
            .map(|c| self.rows.iter().filter_map(|r| r.get(c)).map(|cell| display_width(cell)).max().unwrap_or(0))
            .collect();
        let mut out = String::new();
        for row in &self.rows {
            let mut line = " ".repeat(indent);
            for (c, cell) in row.iter().enumerate() {
                if c > 0 {
                    line.push_str("  ");
                }
                line.push_str(&pad(cell, widths[c]));
            }
            out.push_str(line.trim_end());
            out.push('\n');
        }
        out
    }
}

/// `n` and a noun in singular or plural, e.g. `1 bundle`, `2 bundles`.
pub fn count(n: usize, singular: &str, plural: &str) -> String {
    format!("{n} {}", if n == 1 { singular } else { plural })
}

/// English and Chinese names of a weekday, e.g. `("Friday", "星期五")`.
pub fn weekday_names(day: Weekday) -> (&'static str, &'static str) {
    match day {
        Weekday::Monday => ("Monday", "星期一"),
        Weekday::Tuesday => ("Tuesday", "星期二"),
        Weekday::Wednesday => ("Wednesday", "星期三"),
        Weekday::Thursday => ("Thursday", "星期四"),
        Weekday::Friday => ("Friday", "星期五"),
        Weekday::Saturday => ("Saturday", "星期六"),
        Weekday::Sunday => ("Sunday", "星期日"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cjk_counts_double() {
        assert_eq!(display_width("abc"), 3);
        assert_eq!(display_width("营业执照"), 8);
        assert_eq!(display_width("县人力资源和社会保障局（社保）"), 30);
        assert_eq!(display_width("09:00–12:00"), 11);
        assert_eq!(pad("消防", 6), "消防  ");
        assert_eq!(pad("toolong", 3), "toolong");
    }

    #[test]
    fn table_aligns_mixed_scripts() {
        let mut t = Table::new(["item", "days"]);
        t.row(["营业执照", "1"]);
        t.row(["sign", "5"]);
        assert_eq!(t.render(2), "  item      days\n  营业执照  1\n  sign      5\n");
    }
}
