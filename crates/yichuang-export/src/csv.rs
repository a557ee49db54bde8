//! CSV (RFC 4180): the XES log flattened, one row per event of a case, with the case's
//! attributes repeated on every row. The column names are the XES keys, so PM4Py, Disco and
//! Celonis recognise case, activity, timestamp and resource without a mapping.

use std::io::{self, Write};

use crate::model::{Log, UtcOffset, variant};

/// The header row.
pub const COLUMNS: [&str; 14] = [
    "case:concept:name",
    "case:bundle",
    "case:channel",
    "case:outcome",
    "case:rating",
    "concept:name",
    "lifecycle:transition",
    "time:timestamp",
    "org:resource",
    "org:role",
    "org:group",
    "event",
    "seq",
    "item",
];

/// A field quoted when it holds a comma, a quote or a line break; quotes doubled.
fn field(text: &str) -> String {
    if text.contains([',', '"', '\n', '\r']) { format!("\"{}\"", text.replace('"', "\"\"")) } else { text.to_owned() }
}

/// Writes the events of every case, case by case in order of opening, each case's events in
/// recorded order. Line ends are CRLF, as RFC 4180 says.
pub fn write(log: &Log<'_>, offset: UtcOffset, out: &mut dyn Write) -> io::Result<()> {
    write!(out, "{}\r\n", COLUMNS.join(","))?;
    for case in log.cases() {
        let bundle = case.bundle.map(|b| b.to_string()).unwrap_or_default();
        let channel = case.channel.map(|c| variant(&c)).unwrap_or_default();
        let outcome = case.outcome.map(|(o, _)| variant(&o)).unwrap_or_default();
        let rating = case.rating.map(|(s, _)| s.to_string()).unwrap_or_default();
        for &k in &case.events {
            let e = &log.events()[k];
            let item = e.item.map(|i| i.to_string()).unwrap_or_default();
            let row = [
                case.id.to_string(),
                bundle.clone(),
                channel.clone(),
                outcome.clone(),
                rating.clone(),
                e.activity.clone(),
                e.lifecycle.as_str().to_owned(),
                offset.format(e.record.at, false),
                e.resource().to_owned(),
                e.role().to_owned(),
                e.group.clone().unwrap_or_default(),
                e.event_name().to_owned(),
                e.record.seq.to_string(),
                item,
            ];
            let row: Vec<String> = row.iter().map(|f| field(f)).collect();
            write!(out, "{}\r\n", row.join(","))?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::field;

    #[test]
    fn fields_are_quoted_only_when_needed() {
        assert_eq!(field("受理"), "受理");
        assert_eq!(field("a,b"), "\"a,b\"");
        assert_eq!(field("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(field("two\nlines"), "\"two\nlines\"");
    }
}
