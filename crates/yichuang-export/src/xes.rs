//! XES (IEEE 1849-2016): one trace per case (办件), one event per recorded event of the case.
//!
//! The mapping is in `docs/exports.md`: `concept:name` is the item's name for a task's events
//! and a Chinese label for the case's own (收件, 受理, 办结, 出件, 评价 …); `lifecycle:transition`
//! follows the standard model (a task is scheduled when ready, started when claimed, completed
//! when decided); `org:resource` is the actor, `org:group` the department (or the window for
//! intake and delivery). Tickets are not traces of a case: they are in the OCEL export.

use std::io::{self, Write};

use crate::model::{Log, UtcOffset, Value};
use crate::xml::escape;

/// Writes `log` as an XES document. Times are hall-local civil time read at `offset`.
pub fn write(log: &Log<'_>, offset: UtcOffset, out: &mut dyn Write) -> io::Result<()> {
    let def = log.definition();
    writeln!(out, r#"<?xml version="1.0" encoding="UTF-8"?>"#)?;
    writeln!(out, r#"<log xes.version="1849-2016" xes.features="" xmlns="http://www.xes-standard.org/">"#)?;
    for (name, prefix) in
        [("Concept", "concept"), ("Time", "time"), ("Organizational", "org"), ("Lifecycle", "lifecycle")]
    {
        writeln!(
            out,
            r#"  <extension name="{name}" prefix="{prefix}" uri="http://www.xes-standard.org/{prefix}.xesext"/>"#
        )?;
    }
    writeln!(out, r#"  <global scope="trace">"#)?;
    writeln!(out, r#"    <string key="concept:name" value="UNKNOWN"/>"#)?;
    writeln!(out, r#"  </global>"#)?;
    writeln!(out, r#"  <global scope="event">"#)?;
    writeln!(out, r#"    <string key="concept:name" value="UNKNOWN"/>"#)?;
    writeln!(out, r#"    <string key="lifecycle:transition" value="complete"/>"#)?;
    writeln!(out, r#"    <date key="time:timestamp" value="1970-01-01T00:00:00.000+00:00"/>"#)?;
    writeln!(out, r#"    <string key="org:resource" value="UNKNOWN"/>"#)?;
    writeln!(out, r#"  </global>"#)?;
    writeln!(out, r#"  <classifier name="Activity" keys="concept:name"/>"#)?;
    writeln!(out, r#"  <classifier name="Activity and transition" keys="concept:name lifecycle:transition"/>"#)?;
    writeln!(out, r#"  <string key="concept:name" value="{}"/>"#, escape(def.name()))?;
    writeln!(out, r#"  <string key="lifecycle:model" value="standard"/>"#)?;
    writeln!(out, r#"  <string key="definition" value="{}"/>"#, escape(def.id()))?;
    for case in log.cases() {
        writeln!(out, "  <trace>")?;
        writeln!(out, r#"    <string key="concept:name" value="{}"/>"#, case.id)?;
        if let Some(bundle) = case.bundle {
            writeln!(out, r#"    <string key="bundle" value="{}"/>"#, escape(bundle))?;
            writeln!(out, r#"    <string key="bundle_name" value="{}"/>"#, escape(&log.bundle_name(bundle)))?;
        }
        if let Some(channel) = case.channel {
            writeln!(out, r#"    <string key="channel" value="{}"/>"#, crate::model::variant(&channel))?;
        }
        if let Some((outcome, _)) = case.outcome {
            writeln!(out, r#"    <string key="outcome" value="{}"/>"#, crate::model::variant(&outcome))?;
        }
        if let Some((stars, _)) = case.rating {
            writeln!(out, r#"    <int key="rating" value="{stars}"/>"#)?;
        }
        for &k in &case.events {
            let e = &log.events()[k];
            writeln!(out, "    <event>")?;
            writeln!(out, r#"      <string key="concept:name" value="{}"/>"#, escape(&e.activity))?;
            writeln!(out, r#"      <string key="lifecycle:transition" value="{}"/>"#, e.lifecycle.as_str())?;
            writeln!(out, r#"      <date key="time:timestamp" value="{}"/>"#, offset.format(e.record.at, true))?;
            writeln!(out, r#"      <string key="org:resource" value="{}"/>"#, escape(e.resource()))?;
            writeln!(out, r#"      <string key="org:role" value="{}"/>"#, e.role())?;
            if let Some(group) = &e.group {
                writeln!(out, r#"      <string key="org:group" value="{}"/>"#, escape(group))?;
            }
            writeln!(out, r#"      <string key="event" value="{}"/>"#, e.event_name())?;
            writeln!(out, r#"      <int key="seq" value="{}"/>"#, e.record.seq)?;
            for (key, value) in &e.attributes {
                write_attribute(out, key, value, offset)?;
            }
            writeln!(out, "    </event>")?;
        }
        writeln!(out, "  </trace>")?;
    }
    writeln!(out, "</log>")
}

fn write_attribute(out: &mut dyn Write, key: &str, value: &Value, offset: UtcOffset) -> io::Result<()> {
    let (tag, text) = match value {
        Value::Text(s) => ("string", escape(s)),
        Value::Int(n) => ("int", n.to_string()),
        Value::Bool(b) => ("boolean", b.to_string()),
        Value::Time(t) => ("date", offset.format(*t, true)),
    };
    writeln!(out, r#"      <{tag} key="{key}" value="{text}"/>"#)
}
