//! BPMN 2.0: a bundle (一件事) as an executable process with diagram interchange (BPMNDI).
//!
//! One pool per bundle with a lane for the hall's windows (综合受理 and 统一出件) and one lane
//! per deciding department; one user task per member item (事项) in its department's lane
//! (a countersign, 会签, in the first department's lane); parallel gateways fork and join the
//! dependency DAG; a conditional member (情形) sits between an exclusive split, whose condition
//! reads the form answers, and an exclusive merge that the default flow reaches when the member
//! does not apply; the stages of 工改 are milestones: when stage *k* is complete, an
//! intermediate event named after it lets stage *k* + 1 start.
//!
//! **How the process waits** follows `yichuang plan` and the engine: a member starts when every
//! member it comes `after` is done (approved, or skipped because it does not apply); a member of
//! stage *k* > 0 that waits for nothing else in its own stage also waits for stage *k* − 1's
//! milestone. An `All` stage's milestone event joins every milestone item; an `Any` stage has
//! no token-flow equivalent (BPMN's complex gateway is not widely executed), so each milestone
//! item throws a signal and a catching event, waiting from the start, passes the first one on.
//! BPMN signals are broadcast: an engine that runs several instances of the process must scope
//! the signal to the instance (docs/exports.md).
//!
//! Conditions are written `answers.get("FIELD") == "VALUE"`, which SpiffWorkflow evaluates
//! as Python and Camunda as JUEL inside `${…}`; the form answers are the process variable
//! `answers`, a map filled at intake.
//!
//! The layout is computed here: columns by longest path from the start, rows by lane, nodes
//! that share a lane and a column stacked, edges drawn orthogonally.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use yichuang_core::Definition;
use yichuang_core::definition::{Bundle, MilestoneRule};

use crate::xml::escape;

/// What a flow node is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Start,
    End,
    UserTask,
    Parallel,
    Exclusive,
    /// A stage's milestone reached (intermediate throw event without a definition).
    Milestone,
    /// A milestone item of an `Any` stage throws the stage's signal.
    ThrowSignal(usize),
    /// The stage's signal caught: the next stage may start.
    CatchSignal(usize),
}

#[derive(Debug, Clone)]
struct Node {
    id: String,
    kind: Kind,
    name: String,
    lane: usize,
    documentation: Option<String>,
    /// Index in `Process::flows` of an exclusive gateway's default flow.
    default: Option<usize>,
}

#[derive(Debug, Clone)]
struct Flow {
    from: usize,
    to: usize,
    condition: Option<String>,
    name: Option<String>,
}

/// Who hands a token to a member or a gate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Producer {
    /// The intake, once the application is accepted.
    Start,
    /// A member is done (decided, or skipped).
    Member(usize),
    /// Stage k is complete.
    Gate(usize),
}

/// The process model before it is written.
#[derive(Debug, Default)]
struct Process {
    nodes: Vec<Node>,
    flows: Vec<Flow>,
    lanes: Vec<String>,
    /// Signal ids and names (for `Any` stages).
    signals: Vec<(String, String)>,
}

impl Process {
    fn node(&mut self, id: String, kind: Kind, name: String, lane: usize) -> usize {
        self.nodes.push(Node { id, kind, name, lane, documentation: None, default: None });
        self.nodes.len() - 1
    }

    fn flow(&mut self, from: usize, to: usize) -> usize {
        self.flows.push(Flow { from, to, condition: None, name: None });
        self.flows.len() - 1
    }
}

/// A Python/JUEL string literal in double quotes.
fn literal(text: &str) -> String {
    format!("\"{}\"", text.replace('\\', "\\\\").replace('"', "\\\""))
}

/// What each member and stage gate waits for (see the module documentation).
fn requirements(bundle: &Bundle) -> Vec<Vec<Producer>> {
    bundle
        .members
        .iter()
        .map(|member| {
            let mut needs: Vec<Producer> = member.after.iter().map(|&p| Producer::Member(p)).collect();
            if let Some(k) = member.stage.filter(|&k| k > 0)
                && !member.after.iter().any(|&p| bundle.members[p].stage == Some(k))
            {
                needs.push(Producer::Gate(k - 1));
            }
            if needs.is_empty() {
                needs.push(Producer::Start);
            }
            needs
        })
        .collect()
}

fn build(def: &Definition, bundle: &Bundle) -> Process {
    let mut p = Process::default();
    p.lanes.push("综合窗口（受理、出件）".to_owned());
    let mut lane_of_dept: BTreeMap<usize, usize> = BTreeMap::new();
    let mut member_lane = vec![0; bundle.members.len()];
    for &m in &bundle.topo {
        let d = def.item(bundle.members[m].item).decided_by.departments()[0];
        let lane = *lane_of_dept.entry(d.index()).or_insert_with(|| {
            p.lanes.push(def.department(d).name.clone());
            p.lanes.len() - 1
        });
        member_lane[m] = lane;
    }

    let start = p.node("StartEvent_submitted".into(), Kind::Start, "收件".into(), 0);
    let intake = p.node("Task_intake".into(), Kind::UserTask, "综合受理".into(), 0);
    p.nodes[intake].documentation = Some("前台综合受理: the intake window checks the materials and records the form answers (the process variable `answers`).".into());
    p.flow(start, intake);

    let needs = requirements(bundle);
    // Entry node of each member (where its requirements join) and exit node (done).
    let mut entry = vec![0; bundle.members.len()];
    let mut exit = vec![0; bundle.members.len()];
    let last_stage = bundle.stages.len().saturating_sub(1);
    // One signal per `Any` stage that gates a next stage.
    let mut signal_of_stage = vec![None; bundle.stages.len()];
    for (k, stage) in bundle.stages.iter().enumerate().take(last_stage) {
        if stage.rule == MilestoneRule::Any {
            signal_of_stage[k] = Some(p.signals.len());
            p.signals.push((format!("Signal_stage{k}"), format!("{}: {} 阶段完成", bundle.id, stage.id)));
        }
    }
    for &m in &bundle.topo {
        let member = &bundle.members[m];
        let item = def.item(member.item);
        let lane = member_lane[m];
        let join =
            (needs[m].len() > 1).then(|| p.node(format!("Gateway_join_m{m}"), Kind::Parallel, String::new(), lane));
        let countersign = item.decided_by.departments().len() > 1;
        let name = if countersign { format!("{}（会签）", item.name) } else { item.name.clone() };
        let task = p.node(format!("Task_m{m}"), Kind::UserTask, name, lane);
        let deciders: Vec<&str> =
            item.decided_by.departments().iter().map(|&d| def.department(d).name.as_str()).collect();
        p.nodes[task].documentation = Some(format!(
            "{} ({}, 事项编码 {}): decided by {}; promised {} working days.",
            item.name,
            item.id,
            item.code,
            deciders.join(" + "),
            item.promised_days
        ));
        let (first, mut last) = match &member.when {
            None => (task, task),
            Some(c) => {
                let field = &def.field(c.field).id;
                let split = p.node(
                    format!("Gateway_when_m{m}"),
                    Kind::Exclusive,
                    format!("{}？", def.field(c.field).label),
                    lane,
                );
                let merge = p.node(format!("Gateway_merge_m{m}"), Kind::Exclusive, String::new(), lane);
                let yes = p.flow(split, task);
                p.flows[yes].condition = Some(format!("answers.get({}) == {}", literal(field), literal(&c.equals)));
                p.flows[yes].name = Some(c.equals.clone());
                let no = p.flow(split, merge);
                p.flows[no].name = Some("不适用".into());
                p.nodes[split].default = Some(no);
                p.flow(task, merge);
                (split, merge)
            }
        };
        if let Some(signal) = member.stage.and_then(|k| signal_of_stage[k])
            && bundle.stages[member.stage.unwrap_or_default()].milestones.contains(&m)
        {
            let signal = p.node(
                format!("Event_milestone_m{m}"),
                Kind::ThrowSignal(signal),
                format!("里程碑：{}", item.name),
                lane,
            );
            p.flow(last, signal);
            last = signal;
        }
        entry[m] = match join {
            Some(j) => {
                p.flow(j, first);
                j
            }
            None => first,
        };
        exit[m] = last;
    }

    // Stage gates: entry (where the milestones join, or the catching event) and exit.
    let mut gate_entry = vec![None; bundle.stages.len()];
    let mut gate_exit = vec![0; bundle.stages.len()];
    let mut gate_needs: Vec<Vec<Producer>> = vec![Vec::new(); bundle.stages.len()];
    for (k, stage) in bundle.stages.iter().enumerate().take(last_stage) {
        let lane = stage.milestones.first().map_or(0, |&m| member_lane[m]);
        match stage.rule {
            MilestoneRule::All => {
                let event = p.node(
                    format!("Event_stage{k}_complete"),
                    Kind::Milestone,
                    format!("阶段完成：{}", stage.name),
                    lane,
                );
                gate_entry[k] = Some(if stage.milestones.len() > 1 {
                    let j = p.node(format!("Gateway_stage{k}_join"), Kind::Parallel, String::new(), lane);
                    p.flow(j, event);
                    j
                } else {
                    event
                });
                gate_exit[k] = event;
                gate_needs[k] = stage.milestones.iter().map(|&m| Producer::Member(m)).collect();
            }
            MilestoneRule::Any => {
                let signal = signal_of_stage[k].unwrap_or_default();
                let event = p.node(
                    format!("Event_stage{k}_complete"),
                    Kind::CatchSignal(signal),
                    format!("阶段完成：{}（任一里程碑）", stage.name),
                    lane,
                );
                gate_entry[k] = Some(event);
                gate_exit[k] = event;
                gate_needs[k] = vec![Producer::Start];
            }
        }
    }

    // Every producer's token goes to each consumer; producers nobody consumes go to the end.
    let mut consumers: BTreeMap<Producer, Vec<usize>> = BTreeMap::new();
    for &m in &bundle.topo {
        for &producer in &needs[m] {
            consumers.entry(producer).or_default().push(entry[m]);
        }
    }
    for (k, needs) in gate_needs.iter().enumerate() {
        for &producer in needs {
            consumers.entry(producer).or_default().push(gate_entry[k].unwrap_or_default());
        }
    }
    let mut producers = vec![(Producer::Start, intake, 0)];
    producers.extend(bundle.topo.iter().map(|&m| (Producer::Member(m), exit[m], member_lane[m])));
    producers.extend((0..last_stage).map(|k| (Producer::Gate(k), gate_exit[k], p.nodes[gate_exit[k]].lane)));
    let mut to_end = Vec::new();
    for (producer, node, lane) in producers {
        let targets = consumers.remove(&producer).unwrap_or_default();
        match targets.len() {
            0 => to_end.push(node),
            1 => {
                p.flow(node, targets[0]);
            }
            _ => {
                let id = match producer {
                    Producer::Start => "Gateway_fork_start".to_owned(),
                    Producer::Member(m) => format!("Gateway_fork_m{m}"),
                    Producer::Gate(k) => format!("Gateway_fork_stage{k}"),
                };
                let fork = p.node(id, Kind::Parallel, String::new(), lane);
                p.flow(node, fork);
                for t in targets {
                    p.flow(fork, t);
                }
            }
        }
    }
    let delivery = p.node("Task_delivery".into(), Kind::UserTask, "统一出件".into(), 0);
    p.nodes[delivery].documentation =
        Some("统一窗口出件: every result leaves together through the delivery window.".into());
    if to_end.len() > 1 {
        let join = p.node("Gateway_join_end".into(), Kind::Parallel, String::new(), 0);
        for n in to_end {
            p.flow(n, join);
        }
        p.flow(join, delivery);
    } else {
        for n in to_end {
            p.flow(n, delivery);
        }
    }
    let end = p.node("EndEvent_delivered".into(), Kind::End, "办结出件".into(), 0);
    p.flow(delivery, end);
    p
}

// Sizes of the diagram, in BPMNDI units (pixels in bpmn.io).
const COLUMN: i64 = 150;
const ROW: i64 = 120;
const POOL_HEADER: i64 = 30;
const LANE_HEADER: i64 = 30;
const MARGIN: i64 = 40;

fn size(kind: Kind) -> (i64, i64) {
    match kind {
        Kind::UserTask => (100, 80),
        Kind::Parallel | Kind::Exclusive => (50, 50),
        _ => (36, 36),
    }
}

/// Node bounds `(x, y, width, height)` and lane bounds `(y, height)`.
struct Layout {
    nodes: Vec<(i64, i64, i64, i64)>,
    lanes: Vec<(i64, i64)>,
    width: i64,
}

/// The longest-path column of each node over `edges`, or `None` if they have a cycle.
fn columns(n: usize, edges: &[(usize, usize)]) -> Option<Vec<i64>> {
    let mut indegree = vec![0usize; n];
    for &(_, to) in edges {
        indegree[to] += 1;
    }
    let mut column = vec![0i64; n];
    let mut ready: Vec<usize> = (0..n).filter(|&i| indegree[i] == 0).collect();
    let mut seen = 0;
    while let Some(i) = ready.pop() {
        seen += 1;
        for &(from, to) in edges.iter().filter(|(from, _)| *from == i) {
            column[to] = column[to].max(column[from] + 1);
            indegree[to] -= 1;
            if indegree[to] == 0 {
                ready.push(to);
            }
        }
    }
    (seen == n).then_some(column)
}

fn layout(p: &Process) -> Layout {
    // Columns: longest path from the start over the flows (a DAG; Kahn's order). A signal's
    // catching event is drawn after the events that throw it, so that a stage that waits for
    // it reads left to right; should that ever close a cycle, the flows alone decide.
    let n = p.nodes.len();
    let mut edges: Vec<(usize, usize)> = p.flows.iter().map(|f| (f.from, f.to)).collect();
    for (i, a) in p.nodes.iter().enumerate() {
        for (j, b) in p.nodes.iter().enumerate() {
            if let (Kind::ThrowSignal(x), Kind::CatchSignal(y)) = (a.kind, b.kind)
                && x == y
            {
                edges.push((i, j));
            }
        }
    }
    let column = columns(n, &edges).unwrap_or_else(|| {
        let flows: Vec<(usize, usize)> = p.flows.iter().map(|f| (f.from, f.to)).collect();
        columns(n, &flows).unwrap_or_else(|| vec![0; n])
    });
    // Rows: nodes sharing a lane and a column are stacked in creation order.
    let mut slot = vec![0i64; n];
    let mut used: BTreeMap<(usize, i64), i64> = BTreeMap::new();
    for (i, node) in p.nodes.iter().enumerate() {
        let count = used.entry((node.lane, column[i])).or_insert(0);
        slot[i] = *count;
        *count += 1;
    }
    let mut lanes = Vec::with_capacity(p.lanes.len());
    let mut y = MARGIN;
    for lane in 0..p.lanes.len() {
        let rows = used.iter().filter(|((l, _), _)| *l == lane).map(|(_, &c)| c).max().unwrap_or(1).max(1);
        lanes.push((y, rows * ROW));
        y += rows * ROW;
    }
    let left = MARGIN + POOL_HEADER + LANE_HEADER;
    let nodes = p
        .nodes
        .iter()
        .enumerate()
        .map(|(i, node)| {
            let (w, h) = size(node.kind);
            let cx = left + column[i] * COLUMN + COLUMN / 2;
            let cy = lanes[node.lane].0 + slot[i] * ROW + ROW / 2;
            (cx - w / 2, cy - h / 2, w, h)
        })
        .collect();
    let columns = column.iter().max().copied().unwrap_or(0) + 1;
    Layout { nodes, lanes, width: POOL_HEADER + LANE_HEADER + columns * COLUMN }
}

/// The bundle as a BPMN 2.0 XML document: one collaboration with the bundle's pool, its
/// process and the diagram.
pub fn write(def: &Definition, bundle: &Bundle) -> String {
    let p = build(def, bundle);
    let l = layout(&p);
    let mut s = String::new();
    let pid = format!("Process_{}", bundle_suffix(bundle));
    let _ = writeln!(s, r#"<?xml version="1.0" encoding="UTF-8"?>"#);
    let _ = writeln!(
        s,
        r#"<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" xmlns:bpmndi="http://www.omg.org/spec/BPMN/20100524/DI" xmlns:dc="http://www.omg.org/spec/DD/20100524/DC" xmlns:di="http://www.omg.org/spec/DD/20100524/DI" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" id="Definitions_{0}" targetNamespace="urn:yichuang:{1}" exporter="yichuang" exporterVersion="{2}">"#,
        bundle_suffix(bundle),
        escape(def.id()),
        env!("CARGO_PKG_VERSION")
    );
    for (id, name) in &p.signals {
        let _ = writeln!(s, r#"  <bpmn:signal id="{id}" name="{}"/>"#, escape(name));
    }
    let _ = writeln!(s, r#"  <bpmn:collaboration id="Collaboration_{}">"#, bundle_suffix(bundle));
    let _ = writeln!(
        s,
        r#"    <bpmn:participant id="Participant_{}" name="{}" processRef="{pid}"/>"#,
        bundle_suffix(bundle),
        escape(&bundle.name)
    );
    let _ = writeln!(s, "  </bpmn:collaboration>");
    let _ = writeln!(s, r#"  <bpmn:process id="{pid}" name="{}" isExecutable="true">"#, escape(&bundle.name));
    let _ = writeln!(
        s,
        "    <bpmn:documentation>{}</bpmn:documentation>",
        escape(&format!(
            "一件事 {} ({}) of {}: lead department {}, promised {} working days.",
            bundle.name,
            bundle.id,
            def.name(),
            def.department(bundle.lead).name,
            bundle.promised_days
        ))
    );
    let _ = writeln!(s, r#"    <bpmn:laneSet id="LaneSet_1">"#);
    for (k, lane) in p.lanes.iter().enumerate() {
        let _ = writeln!(s, r#"      <bpmn:lane id="Lane_{k}" name="{}">"#, escape(lane));
        for node in p.nodes.iter().filter(|n| n.lane == k) {
            let _ = writeln!(s, "        <bpmn:flowNodeRef>{}</bpmn:flowNodeRef>", node.id);
        }
        let _ = writeln!(s, "      </bpmn:lane>");
    }
    let _ = writeln!(s, "    </bpmn:laneSet>");
    for (i, node) in p.nodes.iter().enumerate() {
        write_node(&mut s, &p, i, node);
    }
    for (k, f) in p.flows.iter().enumerate() {
        let name = f.name.as_ref().map(|n| format!(r#" name="{}""#, escape(n))).unwrap_or_default();
        let head = format!(
            r#"    <bpmn:sequenceFlow id="Flow_{k}"{name} sourceRef="{}" targetRef="{}""#,
            p.nodes[f.from].id, p.nodes[f.to].id
        );
        match &f.condition {
            None => {
                let _ = writeln!(s, "{head}/>");
            }
            Some(c) => {
                let _ = writeln!(s, "{head}>");
                let _ = writeln!(
                    s,
                    r#"      <bpmn:conditionExpression xsi:type="bpmn:tFormalExpression">{}</bpmn:conditionExpression>"#,
                    escape(c)
                );
                let _ = writeln!(s, "    </bpmn:sequenceFlow>");
            }
        }
    }
    let _ = writeln!(s, "  </bpmn:process>");
    write_diagram(&mut s, &p, &l, bundle);
    let _ = writeln!(s, "</bpmn:definitions>");
    s
}

/// The bundle id as an XML name (ids are kebab-case by convention; anything else becomes `_`).
fn bundle_suffix(bundle: &Bundle) -> String {
    bundle.id.chars().map(|c| if c.is_ascii_alphanumeric() || c == '-' || c == '_' { c } else { '_' }).collect()
}

fn write_node(s: &mut String, p: &Process, i: usize, node: &Node) {
    let tag = match node.kind {
        Kind::Start => "startEvent",
        Kind::End => "endEvent",
        Kind::UserTask => "userTask",
        Kind::Parallel => "parallelGateway",
        Kind::Exclusive => "exclusiveGateway",
        Kind::Milestone | Kind::ThrowSignal(_) => "intermediateThrowEvent",
        Kind::CatchSignal(_) => "intermediateCatchEvent",
    };
    let name = if node.name.is_empty() { String::new() } else { format!(r#" name="{}""#, escape(&node.name)) };
    let default = node.default.map(|f| format!(r#" default="Flow_{f}""#)).unwrap_or_default();
    let _ = writeln!(s, r#"    <bpmn:{tag} id="{}"{name}{default}>"#, node.id);
    if let Some(doc) = &node.documentation {
        let _ = writeln!(s, "      <bpmn:documentation>{}</bpmn:documentation>", escape(doc));
    }
    for (k, _) in p.flows.iter().enumerate().filter(|(_, f)| f.to == i) {
        let _ = writeln!(s, "      <bpmn:incoming>Flow_{k}</bpmn:incoming>");
    }
    for (k, _) in p.flows.iter().enumerate().filter(|(_, f)| f.from == i) {
        let _ = writeln!(s, "      <bpmn:outgoing>Flow_{k}</bpmn:outgoing>");
    }
    if let Kind::ThrowSignal(k) | Kind::CatchSignal(k) = node.kind {
        let _ = writeln!(
            s,
            r#"      <bpmn:signalEventDefinition id="{}_definition" signalRef="{}"/>"#,
            node.id, p.signals[k].0
        );
    }
    let _ = writeln!(s, "    </bpmn:{tag}>");
}

fn write_diagram(s: &mut String, p: &Process, l: &Layout, bundle: &Bundle) {
    let suffix = bundle_suffix(bundle);
    let _ = writeln!(s, r#"  <bpmndi:BPMNDiagram id="Diagram_{suffix}">"#);
    let _ = writeln!(s, r#"    <bpmndi:BPMNPlane id="Plane_{suffix}" bpmnElement="Collaboration_{suffix}">"#);
    let top = l.lanes.first().map_or(MARGIN, |x| x.0);
    let height: i64 = l.lanes.iter().map(|x| x.1).sum();
    let _ = writeln!(
        s,
        r#"      <bpmndi:BPMNShape id="Participant_{suffix}_di" bpmnElement="Participant_{suffix}" isHorizontal="true"><dc:Bounds x="{MARGIN}" y="{top}" width="{}" height="{height}"/></bpmndi:BPMNShape>"#,
        l.width
    );
    for (k, (y, h)) in l.lanes.iter().enumerate() {
        let _ = writeln!(
            s,
            r#"      <bpmndi:BPMNShape id="Lane_{k}_di" bpmnElement="Lane_{k}" isHorizontal="true"><dc:Bounds x="{}" y="{y}" width="{}" height="{h}"/></bpmndi:BPMNShape>"#,
            MARGIN + POOL_HEADER,
            l.width - POOL_HEADER
        );
    }
    for (node, &(x, y, w, h)) in p.nodes.iter().zip(&l.nodes) {
        let marker = if node.kind == Kind::Exclusive { r#" isMarkerVisible="true""# } else { "" };
        let label = match node.kind {
            Kind::UserTask => String::new(),
            _ if node.name.is_empty() => String::new(),
            // A condition's question goes above its gateway, clear of the bypass below.
            Kind::Exclusive => format!(
                r#"<bpmndi:BPMNLabel><dc:Bounds x="{}" y="{}" width="120" height="28"/></bpmndi:BPMNLabel>"#,
                x + w / 2 - 60,
                y - 32
            ),
            _ => format!(
                r#"<bpmndi:BPMNLabel><dc:Bounds x="{}" y="{}" width="120" height="28"/></bpmndi:BPMNLabel>"#,
                x + w / 2 - 60,
                y + h + 4
            ),
        };
        let _ = writeln!(
            s,
            r#"      <bpmndi:BPMNShape id="{}_di" bpmnElement="{}"{marker}><dc:Bounds x="{x}" y="{y}" width="{w}" height="{h}"/>{label}</bpmndi:BPMNShape>"#,
            node.id, node.id
        );
    }
    for (k, f) in p.flows.iter().enumerate() {
        let (sx, sy, sw, sh) = l.nodes[f.from];
        let (tx, ty, _, th) = l.nodes[f.to];
        let (x1, y1) = (sx + sw, sy + sh / 2);
        let (x2, y2) = (tx, ty + th / 2);
        let bypass = p.nodes[f.from].default == Some(k);
        let points = if bypass {
            // The default flow of a conditional member runs under its task to the merge.
            let below = sy + sh / 2 + ROW / 2 - 8;
            let (mx, _, mw, mh) = l.nodes[f.to];
            vec![(sx + sw / 2, sy + sh), (sx + sw / 2, below), (mx + mw / 2, below), (mx + mw / 2, ty + mh)]
        } else if y1 != y2 {
            // Turn at the left edge of the target's column, clear of whatever stands in it.
            let (tx, _, tw, _) = l.nodes[f.to];
            let turn = tx + tw / 2 - COLUMN / 2 + 10;
            vec![(x1, y1), (turn, y1), (turn, y2), (x2, y2)]
        } else {
            vec![(x1, y1), (x2, y2)]
        };
        let label = f.name.as_ref().map(|_| {
            let ((ax, ay), (bx, _)) = (points[0], points[1]);
            let (x, y) = if bypass { (ax + 6, ay + 4) } else { ((ax + bx) / 2 - 15, ay - 22) };
            format!(r#"<bpmndi:BPMNLabel><dc:Bounds x="{x}" y="{y}" width="40" height="14"/></bpmndi:BPMNLabel>"#)
        });
        let _ = write!(s, r#"      <bpmndi:BPMNEdge id="Flow_{k}_di" bpmnElement="Flow_{k}">"#);
        for (x, y) in points {
            let _ = write!(s, r#"<di:waypoint x="{x}" y="{y}"/>"#);
        }
        let _ = writeln!(s, "{}</bpmndi:BPMNEdge>", label.unwrap_or_default());
    }
    let _ = writeln!(s, "    </bpmndi:BPMNPlane>");
    let _ = writeln!(s, "  </bpmndi:BPMNDiagram>");
}
