//! Per-replication, per-case and per-visit tables (CSV) for an analyst's own tools
//! (`simulate --export DIR`): everything needed to rebuild any KPI of the report.
//!
//! - `replications.csv`: one row per replication, every KPI of the [catalogue](crate::kpis)
//!   as that replication measured it (a per-case KPI: the mean of its measured cases), with
//!   its arrivals, completed, unfinished and returned cases.
//! - `cases.csv`: one row per case that completed pickup or was returned (退件), warm-up
//!   included (`measured` says which count in the KPIs): its bundle, times, outcome, trips,
//!   rating at the window and the parts of its cycle time, which add up to it.
//! - `visits.csv`: one row per service at a station (a window visit, a review, each
//!   countersign): when the job joined the queue, began and ended.
//!
//! Times are minutes since the scenario's `start`; a figure with no value is empty. Parquet or
//! Arrow files are not written: the lean Rust crates for them pull in far more than the rest of
//! the simulator (*decision*: CSV, which every tool reads, is the one format).

use std::io::{self, Write};

use yichuang_core::Definition;

use crate::report::Aggregate;
use crate::{RepResult, Scenario};

/// A CSV field (RFC 4180): quoted when it holds a comma, a quote or a line break.
fn field(text: &str) -> std::borrow::Cow<'_, str> {
    if text.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", text.replace('"', "\"\"")).into()
    } else {
        text.into()
    }
}

/// A number, empty when it is not finite.
fn number(x: f64) -> String {
    if x.is_finite() { x.to_string() } else { String::new() }
}

/// The header of `cases.csv`.
pub const CASES_HEADER: &str = "replication,arrival_no,case,bundle,measured,arrival_minutes,end_minutes,outcome,\
on_time,trips,rating_at_window,cycle_minutes,cycle_working_minutes,queue_minutes,join_minutes,materials_minutes,\
special_procedure_minutes,service_minutes";

/// The header of `visits.csv`.
pub const VISITS_HEADER: &str =
    "replication,arrival_no,station,item,queued_minutes,started_minutes,ended_minutes,wait_minutes,service_minutes";

/// Writes the case rows of one replication (kept with `RunOptions::rows`).
pub fn write_cases(out: &mut dyn Write, scenario: &Scenario, r: &RepResult) -> io::Result<()> {
    let Some(rows) = &r.rows else { return Ok(()) };
    for c in &rows.cases {
        let bundle = scenario.spec.arrivals.get(usize::from(c.stream)).map_or("", |a| a.bundle.as_str());
        writeln!(
            out,
            "{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{}",
            r.replication + 1,
            c.arrival_no,
            c.case,
            field(bundle),
            c.measured,
            number(c.arrival),
            number(c.end),
            c.outcome,
            c.on_time,
            c.trips,
            c.rating.map_or(String::new(), |s| s.to_string()),
            number(c.cycle),
            number(c.cycle_working),
            number(c.queue),
            number(c.join),
            number(c.materials),
            number(c.special_procedure),
            number(c.service),
        )?;
    }
    Ok(())
}

/// Writes the visit rows of one replication; `def` names the items reviewed.
pub fn write_visits(out: &mut dyn Write, scenario: &Scenario, def: &Definition, r: &RepResult) -> io::Result<()> {
    let Some(rows) = &r.rows else { return Ok(()) };
    for v in &rows.visits {
        let station = rows.stations.get(usize::from(v.station)).map_or("", String::as_str);
        let item = v
            .member
            .and_then(|m| {
                let bundle = def.bundle_ix(&scenario.spec.arrivals.get(usize::from(v.stream))?.bundle)?;
                let member = def.bundle(bundle).members.get(usize::from(m))?;
                Some(def.item(member.item).id.to_string())
            })
            .unwrap_or_default();
        writeln!(
            out,
            "{},{},{},{},{},{},{},{},{}",
            r.replication + 1,
            v.arrival_no,
            field(station),
            field(&item),
            number(v.queued),
            number(v.started),
            number(v.ended),
            number(v.started - v.queued),
            number(v.ended - v.started),
        )?;
    }
    Ok(())
}

/// Writes `replications.csv`: a header and one row per replication folded into `agg`.
pub fn write_replications(out: &mut dyn Write, agg: &Aggregate) -> io::Result<()> {
    let kpis = crate::kpis::catalogue(agg);
    let columns: Vec<(String, Vec<Option<f64>>)> = kpis.iter().map(|k| (k.name.clone(), k.per_replication())).collect();
    let mut header = vec!["replication".to_owned(), "completed".to_owned()];
    header.extend(columns.iter().map(|(n, _)| field(n).into_owned()));
    for st in &agg.stations {
        header.push(field(&format!("queue_length.{}", st.name)).into_owned());
        header.push(field(&format!("offered_load.{}", st.name)).into_owned());
    }
    writeln!(out, "{}", header.join(","))?;
    for r in 0..agg.replications as usize {
        let mut row =
            vec![(r + 1).to_string(), agg.cycle.replications.get(r).map_or(String::new(), |x| x.0.to_string())];
        row.extend(columns.iter().map(|(_, v)| v.get(r).copied().flatten().map_or(String::new(), number)));
        for st in &agg.stations {
            row.push(st.queue_mean.get(r).map_or(String::new(), |x| number(*x)));
            row.push(st.offered_load.get(r).copied().flatten().map_or(String::new(), |(l, _)| number(l)));
        }
        writeln!(out, "{}", row.join(","))?;
    }
    Ok(())
}
