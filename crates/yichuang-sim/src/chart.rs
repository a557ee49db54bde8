//! What every chart shares: round ticks (1-2-5 steps), text widths measured before drawing
//! (so a label is never cut: margins grow to fit it), time units chosen by magnitude, and SVG
//! escaping.
//!
//! Text width is estimated from the character classes of a sans-serif face, at the widths of
//! DejaVu Sans (Debian's default `sans-serif`, wider than Arial or Helvetica): CJK ideographs and
//! full-width forms take one em, digits and most Latin letters 0.64 em, capitals 0.8, `m`, `w`,
//! `M`, `W` a full em, narrow ones (`i`, `l`, `.`, brackets) 0.4, symbols such as `+`, `→`, `≤`,
//! `−` 0.85. The estimate errs wide, so a margin sized from it holds the rendered text: a test lays
//! every chart out in headless Chromium and measures each text against it.

/// Escapes text for SVG/XML.
pub fn escape(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

/// The width of `text` at `size` pixels, estimated to err wide.
pub fn text_width(text: &str, size: f64) -> f64 {
    text.chars().map(|c| char_em(c) * size).sum()
}

fn char_em(c: char) -> f64 {
    match c {
        'i' | 'j' | 'l' | '.' | ',' | ':' | ';' | '\'' | '|' | '!' | ' ' | '(' | ')' | '[' | ']' => 0.4,
        'm' | 'w' | 'M' | 'W' | '@' | '%' => 1.0,
        '+' | '=' | '<' | '>' | '~' | '^' | '#' | '&' => 0.85,
        c if c.is_ascii_uppercase() => 0.8,
        c if c.is_ascii() => 0.64,
        // Greek, Latin-1 and symbols such as −, ≤, ±, →: DejaVu draws them wide.
        c if (c as u32) < 0x2E80 => 0.85,
        // CJK, kana, hangul, full-width forms: a full em.
        _ => 1.0,
    }
}

/// The 1-2-5 step that cuts `span` into about `target` intervals (at least one).
pub fn nice_step(span: f64, target: usize) -> f64 {
    let span = if span.is_finite() && span > 0.0 { span } else { 1.0 };
    let rough = span / target.max(1) as f64;
    let magnitude = 10f64.powf(rough.log10().floor());
    let fraction = rough / magnitude;
    let nice = if fraction <= 1.0 {
        1.0
    } else if fraction <= 2.0 {
        2.0
    } else if fraction <= 5.0 {
        5.0
    } else {
        10.0
    };
    nice * magnitude
}

/// Round ticks covering `[min, max]`: multiples of a 1-2-5 step, the first at or below `min`,
/// the last at or above `max`.
pub fn ticks(min: f64, max: f64, target: usize) -> Vec<f64> {
    let (min, max) = if max > min { (min, max) } else { (min, min + 1.0) };
    let step = nice_step(max - min, target);
    let first = (min / step).floor();
    let last = (max / step - 1e-9).ceil();
    let count = ((last - first) as usize).min(1000);
    (0..=count).map(|i| clean((first + i as f64) * step, step)).collect()
}

/// `x` rounded to the decimals of `step` (so 0.1 × 3 prints 0.3).
fn clean(x: f64, step: f64) -> f64 {
    let decimals = decimals_of(step);
    let factor = 10f64.powi(decimals as i32);
    let x = (x * factor).round() / factor;
    if x == 0.0 { 0.0 } else { x }
}

/// Decimals that show the ticks of `step` exactly (0 for 1, 2, 5, 10 …; 1 for 0.5 …).
pub fn decimals_of(step: f64) -> usize {
    let mut d = 0;
    while d < 6 && (step * 10f64.powi(d as i32) - (step * 10f64.powi(d as i32)).round()).abs() > 1e-6 {
        d += 1;
    }
    d
}

/// A tick label with the decimals its step needs and thousands separated by commas.
pub fn tick_label(value: f64, step: f64) -> String {
    let text = crate::kpis::fixed(value, decimals_of(step), false);
    group_thousands(&text)
}

/// `12345.5` as `12,345.5`.
pub fn group_thousands(text: &str) -> String {
    let (sign, rest) = text.strip_prefix('-').map_or(("", text), |r| ("-", r));
    let (int, frac) = rest.split_once('.').map_or((rest, None), |(i, f)| (i, Some(f)));
    if int.len() <= 4 || !int.chars().all(|c| c.is_ascii_digit()) {
        return text.to_owned();
    }
    let mut grouped = String::new();
    for (i, c) in int.chars().enumerate() {
        if i > 0 && (int.len() - i) % 3 == 0 {
            grouped.push(',');
        }
        grouped.push(c);
    }
    match frac {
        Some(f) => format!("{sign}{grouped}.{f}"),
        None => format!("{sign}{grouped}"),
    }
}

/// A unit of time for an axis.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TimeUnit {
    /// Minutes in one unit.
    pub minutes: f64,
    /// Its name in Chinese.
    pub zh: &'static str,
    /// Its name in English.
    pub en: &'static str,
}

/// Minutes.
pub const MINUTES: TimeUnit = TimeUnit { minutes: 1.0, zh: "分钟", en: "minutes" };
/// Hours.
pub const HOURS: TimeUnit = TimeUnit { minutes: 60.0, zh: "小时", en: "hours" };
/// Calendar days.
pub const DAYS: TimeUnit = TimeUnit { minutes: 1440.0, zh: "天", en: "days" };

/// The unit an axis reaching `max_minutes` (calendar time) reads best in: minutes up to three
/// hours, hours up to three days, days beyond.
pub fn time_unit(max_minutes: f64) -> TimeUnit {
    if max_minutes <= 180.0 {
        MINUTES
    } else if max_minutes <= 3.0 * 1440.0 {
        HOURS
    } else {
        DAYS
    }
}

/// The unit for working time, when a working day has `day_minutes` working minutes: minutes up
/// to three hours, hours up to a working day and a half, working days beyond.
pub fn working_unit(max_minutes: f64, day_minutes: f64) -> TimeUnit {
    if max_minutes <= 180.0 {
        MINUTES
    } else if max_minutes <= 1.5 * day_minutes {
        HOURS
    } else {
        TimeUnit { minutes: day_minutes, zh: "工作日", en: "working days" }
    }
}

/// A palette that colour-blind readers can tell apart (Okabe–Ito), blue first.
pub const PALETTE: [&str; 8] = ["#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#000000", "#F0E442"];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ticks_are_round_and_cover_the_range() {
        assert_eq!(ticks(0.0, 0.0875, 5), vec![0.0, 0.02, 0.04, 0.06, 0.08, 0.1]);
        assert_eq!(ticks(0.0, 416.0, 5), vec![0.0, 100.0, 200.0, 300.0, 400.0, 500.0]);
        assert_eq!(ticks(0.0, 20_182.0, 5), vec![0.0, 5_000.0, 10_000.0, 15_000.0, 20_000.0, 25_000.0]);
        assert_eq!(ticks(10.0, 16.0, 6), vec![10.0, 11.0, 12.0, 13.0, 14.0, 15.0, 16.0]);
        for (max, target) in [(1.0, 5), (7.3, 4), (0.03, 5), (123_456.0, 6), (2.5, 10)] {
            let t = ticks(0.0, max, target);
            let step = t[1] - t[0];
            let mantissa = step / 10f64.powf(step.log10().floor());
            assert!([1.0, 2.0, 5.0].iter().any(|m| (mantissa - m).abs() < 1e-9), "step {step} for {max}");
            assert!(t[0] <= 0.0 && *t.last().expect("ticks") >= max, "{t:?} covers {max}");
        }
        assert_eq!(tick_label(20_000.0, 5_000.0), "20,000");
        assert_eq!(tick_label(0.3, 0.1), "0.3");
        assert_eq!(tick_label(0.06, 0.02), "0.06");
    }

    #[test]
    fn chinese_text_is_wider_than_latin_and_units_follow_magnitude() {
        assert!(text_width("办件周期", 12.0) >= 48.0);
        assert!(text_width("employee-insurance (human-resources)", 12.0) > 180.0);
        assert_eq!(time_unit(150.0), MINUTES);
        assert_eq!(time_unit(2_000.0), HOURS);
        assert_eq!(time_unit(46_102.0), DAYS);
        assert_eq!(working_unit(9_000.0, 450.0).en, "working days");
    }
}
