//! Shared test harness: a small hall (`tests/data/hall.ron`) and helpers to drive cases.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::sync::Arc;

use yichuang_core::*;

pub struct Hall {
    pub engine: Engine,
    pub now: Instant,
    pub applicant: Actor,
    pub intake: Actor,
    pub delivery: Actor,
}

pub fn definition() -> Arc<Definition> {
    // Relative to this file, so that other crates' tests can share the harness.
    Arc::new(Definition::from_ron(include_str!("../data/hall.ron"), "hall.ron").unwrap_or_else(|e| panic!("{e}")))
}

pub fn t(s: &str) -> Instant {
    s.parse().unwrap()
}

pub fn reviewer(dept: &str) -> Actor {
    Actor::reviewer(&format!("r-{dept}"), dept)
}

pub fn ids(list: &[&str]) -> Vec<Id> {
    list.iter().map(|s| Id::new(s)).collect()
}

pub const ALL_RESTAURANT: &[&str] = &["licence-form", "lease", "health-cert", "floor-plan"];

impl Hall {
    pub fn new() -> Hall {
        Hall {
            engine: Engine::new(definition()),
            now: t("2026-03-02T09:30"),
            applicant: Actor::applicant("91330000MA0001"),
            intake: Actor::clerk("clerk-1", "intake-1"),
            delivery: Actor::clerk("clerk-9", "delivery-1"),
        }
    }

    pub fn submission(&self, bundle: &str, materials: &[&str], answers: &[(&str, &str)]) -> Submission {
        Submission {
            bundle: Id::new(bundle),
            applicant: Applicant {
                id: self.applicant.id.clone(),
                name: "张三餐饮有限公司".into(),
                credit_blocked: false,
            },
            channel: Channel::Window,
            materials: ids(materials).into(),
            answers: answers.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect::<BTreeMap<_, _>>().into(),
            green_channel: false,
        }
    }

    pub fn submit(&mut self, bundle: &str, materials: &[&str], answers: &[(&str, &str)]) -> CaseId {
        let s = self.submission(bundle, materials, answers);
        let ctx = Ctx { now: self.now, actor: &self.intake };
        self.engine.open(Command::Submit(Box::new(s)), &ctx).unwrap().0
    }

    pub fn run(&mut self, case: CaseId, actor: &Actor, command: Command) -> Result<Vec<Recorded>, Rejection> {
        let before = self.engine.case(case).cloned();
        let result = self.engine.execute(case, command, &Ctx { now: self.now, actor });
        if result.is_err() {
            assert_eq!(self.engine.case(case).cloned(), before, "a refused command changes nothing");
        }
        result
    }

    pub fn ok(&mut self, case: CaseId, actor: &Actor, command: Command) -> Vec<&'static str> {
        match self.run(case, actor, command) {
            Ok(events) => events.iter().map(|r| r.event.name()).collect(),
            Err(e) => panic!("refused: {e}"),
        }
    }

    pub fn task(&mut self, case: CaseId, item: &str, dept: &str, action: TaskCommand) -> Vec<&'static str> {
        self.ok(case, &reviewer(dept), Command::Task { item: Id::new(item), action })
    }

    pub fn approve(&mut self, case: CaseId, item: &str, dept: &str) {
        self.task(case, item, dept, TaskCommand::Claim);
        self.task(case, item, dept, TaskCommand::Approve);
    }

    pub fn state(&self, case: CaseId) -> CaseState {
        self.engine.case(case).unwrap().state()
    }

    pub fn task_state(&self, case: CaseId, item: &str) -> TaskState {
        self.engine.case(case).unwrap().task(item).unwrap().state()
    }

    pub fn advance_hours(&mut self, hours: i64) -> Vec<Recorded> {
        self.now = self.now.plus_minutes(hours * 60);
        self.engine.advance_to(self.now)
    }

    /// Submits and accepts a complete 我要开饭店 case and approves every member: it is then
    /// ready for delivery.
    pub fn restaurant_approved(&mut self) -> CaseId {
        let case = self.submit("restaurant", ALL_RESTAURANT, &[]);
        let intake = self.intake.clone();
        self.ok(case, &intake, Command::Accept);
        for (item, dept) in [("licence", "market"), ("food", "market"), ("fire-check", "fire"), ("sign", "urban")] {
            self.approve(case, item, dept);
        }
        case
    }

    /// Submits a green-channel project without its safety plan, accepted tolerating it (the
    /// permit may issue before cure), and approves every member including the countersign.
    pub fn project_tolerated_approved(&mut self) -> CaseId {
        let case = self.submit("project", &["design", "completion-report"], &[]);
        let intake = self.intake.clone();
        self.ok(case, &intake, Command::AcceptTolerating { cure_due: "2026-03-20".parse().unwrap() });
        self.approve(case, "design-review", "planning");
        self.approve(case, "permit", "construction");
        self.task(case, "joint-acceptance", "fire", TaskCommand::Claim);
        for dept in ["fire", "planning", "construction"] {
            self.task(case, "joint-acceptance", dept, TaskCommand::Approve);
        }
        case
    }
}
