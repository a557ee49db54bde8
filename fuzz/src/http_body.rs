//! The service's request bodies (`yichuang_server::wire`, the parsers behind every `POST`),
//! then the command they give, decided by the engine as the writer decides it.

use std::sync::{Arc, OnceLock};

use yichuang_core::{Actor, CaseId, Command, Ctx, Definition, Engine, Instant, Recorded, TicketId};
use yichuang_server::extract::Body;
use yichuang_server::wire::{
    CaseCommand, NoArguments, OpenCase, OpenTicket, SetClock, TaskCommandBody, TicketCommandBody,
};

/// The walk-through's application (docs/http-api.md), on the example county hall.
const SUBMISSION: &str = r#"{
  "bundle": "open-restaurant",
  "applicant": {"id": "91000000MA00000001", "name": "示例县张三餐饮有限公司"},
  "materials": ["premises-proof", "floor-plan", "food-safety-rules", "staff-health-cert",
                "fire-commitment", "fire-rules", "signboard-design", "signboard-safety"],
  "answers": {"company-name": "张三餐饮", "food-business-type": "热食类食品制售", "sells-tobacco": "否"}
}"#;

fn definition() -> Arc<Definition> {
    static DEF: OnceLock<Arc<Definition>> = OnceLock::new();
    DEF.get_or_init(|| {
        let text = include_str!("../../examples/definitions/county-hall.ron");
        Arc::new(Definition::from_ron(text, "county-hall.ron").expect("the example hall loads"))
    })
    .clone()
}

/// The input's first byte picks the route (its body type), the second the caller, and for a
/// task command the item; the rest is the body. A body parses or is a 400 with a message; a
/// parsed command is decided on a hall that holds one accepted case (C000001) and one
/// complaint ticket (T000001); a refused command changes nothing; the invariants hold.
pub fn check(data: &[u8]) {
    let [route, who, body @ ..] = data else { return };
    static HALL: OnceLock<Hall> = OnceLock::new();
    let mut hall = HALL.get_or_init(Hall::new).clone();
    let actor = hall.actor(*who);
    let ctx = Ctx { now: hall.now, actor: &actor };
    match route % 8 {
        0 => {
            let Some(parsed) = parsed::<OpenCase>(body) else { return };
            let Ok(command) = parsed.into_command(&actor) else { return };
            let opened = hall.engine.cases_opened();
            match hall.engine.open(command, &ctx) {
                Ok((_, events)) => hall.log.extend(events),
                Err(_) => assert_eq!(hall.engine.cases_opened(), opened, "a refused opening opened a case"),
            }
        }
        1 => {
            let Some(parsed) = parsed::<CaseCommand>(body) else { return };
            let Ok(command) = parsed.into_command(&actor) else { return };
            hall.execute(command, &ctx);
        }
        2 => {
            let Some(parsed) = parsed::<TaskCommandBody>(body) else { return };
            let def = hall.engine.definition().clone();
            let items = def.items();
            let item = items[usize::from(*who) % items.len()].id.clone();
            hall.execute(Command::Task { item, action: parsed.into_command() }, &ctx);
        }
        3 => {
            let Some(parsed) = parsed::<OpenTicket>(body) else { return };
            let tickets = hall.engine.tickets().len();
            match hall.engine.open_ticket(parsed.into_source(), &ctx) {
                Ok((_, events)) => hall.log.extend(events),
                Err(_) => assert_eq!(hall.engine.tickets().len(), tickets, "a refused ticket opened"),
            }
        }
        4 => {
            let Some(parsed) = parsed::<TicketCommandBody>(body) else { return };
            let id = TicketId(1);
            let before = hall.engine.ticket(id).cloned();
            match hall.engine.execute_ticket(id, &parsed.into_command(), &ctx) {
                Ok(events) => hall.log.extend(events),
                Err(_) => assert_eq!(hall.engine.ticket(id).cloned(), before, "a refused ticket command changed it"),
            }
        }
        5 => {
            let Some(parsed) = parsed::<SetClock>(body) else { return };
            // The service moves a manual clock forward only.
            if parsed.now > hall.now {
                let events = hall.engine.advance_to(parsed.now);
                hall.log.extend(events);
            }
        }
        6 => {
            let _ = parsed::<NoArguments>(body);
            let _ = hall.engine.open_plan_tickets(&ctx).map(|events| hall.log.extend(events));
        }
        _ => {
            let _ = yichuang_server::wire::strict_json(body);
            return;
        }
    }
    crate::invariants::hold(&hall.engine, &hall.log);
}

/// The body parsed as the route parses it: the command, or `None` after checking that the
/// refusal is a 400 that says something.
fn parsed<T: Body>(body: &[u8]) -> Option<T> {
    match T::parse(body) {
        Ok(parsed) => Some(parsed.command),
        Err(e) => {
            assert_eq!(e.status.as_u16(), 400, "a body that does not parse is a 400: {}", e.message);
            assert!(!e.message.is_empty(), "the 400 says what was wrong");
            None
        }
    }
}

#[derive(Clone)]
struct Hall {
    engine: Engine,
    now: Instant,
    log: Vec<Recorded>,
}

impl Hall {
    /// The example hall after the walk-through's submission, acceptance and one complaint.
    fn new() -> Hall {
        let mut engine = Engine::new(definition());
        let now: Instant = "2026-03-02T09:30".parse().expect("a valid instant");
        let clerk = Actor::clerk("clerk-1", "intake-1");
        let ctx = Ctx { now, actor: &clerk };
        let submit = OpenCase::parse(SUBMISSION.as_bytes()).expect("the walk-through's body parses").command;
        let (case, mut log) = engine.open(submit.into_command(&clerk).expect("a clerk submits"), &ctx).expect("opens");
        log.extend(engine.execute(case, Command::Accept, &ctx).expect("the clerk accepts"));
        let complaint = r#"{"source": "complaint", "target": {"Department": "market-access"}, "case": "C000001", "text": "排队太久"}"#;
        let complaint = OpenTicket::parse(complaint.as_bytes()).expect("the complaint parses").command;
        let applicant = Actor::applicant("91000000MA00000001");
        let ctx = Ctx { now, actor: &applicant };
        let (_, events) = engine.open_ticket(complaint.into_source(), &ctx).expect("the applicant complains");
        log.extend(events);
        Hall { engine, now, log }
    }

    /// The caller: the case's applicant, another applicant, clerks, each department's reviewer
    /// and supervisor, a leader and an admin.
    fn actor(&self, who: u8) -> Actor {
        let def = self.engine.definition();
        let mut pool = vec![
            Actor::applicant("91000000MA00000001"),
            Actor::applicant("stranger"),
            Actor::clerk("clerk-1", "intake-1"),
            Actor::clerk("clerk-2", "consult-1"),
            Actor::clerk("clerk-9", "delivery-1"),
            Actor::leader("leader"),
            Actor::admin("admin"),
        ];
        for d in def.departments() {
            pool.push(Actor::reviewer(&format!("r-{}", d.id), d.id.as_str()));
            pool.push(Actor::supervisor(&format!("s-{}", d.id), d.id.as_str()));
        }
        pool[usize::from(who) % pool.len()].clone()
    }

    fn execute(&mut self, command: Command, ctx: &Ctx<'_>) {
        let id = CaseId(1);
        let before = self.engine.case(id).cloned();
        match self.engine.execute(id, command, ctx) {
            Ok(events) => self.log.extend(events),
            Err(_) => assert_eq!(self.engine.case(id).cloned(), before, "a refused command changed the case"),
        }
    }
}
