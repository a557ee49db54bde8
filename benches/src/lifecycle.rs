//! Complete 我要开饭店 (`open-restaurant`) lifecycles in memory, shared by the `engine` benchmark
//! and the `lifecycles` example (run under callgrind for instruction counts).
//!
//! Each case is submitted at an intake window with every material, accepted, then every task is
//! claimed and approved round by round as its department's reviewer (the driver shared with
//! `examples/embed.rs`, ticking the clock three working hours between rounds and firing the
//! engine's timers), delivered at the delivery window and rated five stars. The events of each
//! case go to one reused buffer, as an embedder would hand them to its store.

use std::collections::BTreeMap;
use std::sync::Arc;

use yichuang::prelude::*;

use crate::driver::{self, Staff};

/// Cases per iteration.
pub const CASES: usize = 200;
/// Working minutes between steps of a case.
const STEP_MINUTES: i64 = 180;

/// The county hall and what every case needs.
pub struct Hall {
    /// The county hall's definition.
    pub def: Arc<Definition>,
    /// A complete 我要开饭店 submission.
    pub submission: Submission,
    /// Who acts.
    pub staff: Staff,
    /// When every case starts.
    pub start: Instant,
}

/// The county hall of `examples/definitions/county-hall.ron`.
pub fn hall() -> Hall {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../examples/definitions/county-hall.ron");
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("cannot read {path}: {e}"));
    let def = Arc::new(Definition::from_ron(&text, path).unwrap_or_else(|e| panic!("{e}")));
    let bundle = def.bundle_ix("open-restaurant").expect("county-hall defines open-restaurant");
    let applicant =
        Applicant {
            id: Id::new("91000000MA00000001"), name: "示例县张三餐饮有限公司".into(), credit_blocked: false
        };
    let answers = BTreeMap::from([
        ("company-name".to_owned(), "示例县张三餐饮有限公司".to_owned()),
        ("food-business-type".to_owned(), "热食类食品制售".to_owned()),
        ("sells-tobacco".to_owned(), "是".to_owned()),
    ]);
    let staff = Staff::new(&def, &applicant.id).expect("county-hall has intake and delivery windows");
    let submission = driver::complete_submission(&def, bundle, applicant, answers);
    Hall { def, submission, staff, start: "2026-04-29T09:30".parse().expect("an instant") }
}

/// Runs `cases` lifecycles on `engine`; returns the number of events recorded.
pub fn lifecycles(hall: &Hall, engine: &mut Engine, out: &mut Vec<Recorded>, cases: usize) -> usize {
    let mut events = 0;
    for _ in 0..cases {
        // Every case starts the same morning: cases do not share timers, so each runs as if alone.
        let mut now = hall.start;
        let submit = Command::Submit(Box::new(hall.submission.clone()));
        let case = engine.open_into(submit, &Ctx { now, actor: &hall.staff.intake }, out).expect("submitted");
        driver::tick(engine, &mut now, STEP_MINUTES, out).expect("in the calendar");
        driver::run(engine, case, &Command::Accept, now, &hall.staff.intake, out).expect("accepted");
        driver::drive_to_close(engine, case, &mut now, STEP_MINUTES, &hall.staff, out).expect("closed");
        events += out.len();
        out.clear();
    }
    events
}
