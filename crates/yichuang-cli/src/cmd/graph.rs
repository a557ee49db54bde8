//! `yichuang graph FILE --bundle ID`: a bundle's dependency graph as Mermaid or Graphviz DOT,
//! or as a BPMN 2.0 process (written by `yichuang_export::bpmn`).
//!
//! The bundle is first turned into a small render-neutral model ([`Graph`]), then written in
//! either syntax, so both outputs show the same nodes and edges. Everything is emitted in
//! definition order, so the output is byte-for-byte deterministic.

use std::fmt::Write as _;
use std::io::Write;
use std::path::PathBuf;

use yichuang_core::Definition;
use yichuang_core::definition::{Bundle, Decider};

use crate::cmd::{find_bundle, load_definition};
use crate::failure::Failure;

/// Draw the dependency graph (依赖图) of a bundle (一件事).
///
/// One node per member item (事项) with its name, deciding departments (审批部门) and promised
/// limit (承诺时限, working days); solid arrows are `after` dependencies, dashed nodes and arrows
/// are conditional members (情形), thick arrows are stage gates (阶段), nodes are coloured by
/// deciding department with a legend, countersign items (会签) list every department, and stages
/// are drawn as clusters.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Definition file (RON).
    #[arg(value_name = "FILE")]
    pub file: PathBuf,
    /// Id of the bundle (一件事) to draw.
    #[arg(long, value_name = "ID")]
    pub bundle: String,
    /// Output syntax: `mermaid` (paste into Markdown), `dot` (render with Graphviz `dot -Tsvg`)
    /// or `bpmn` (BPMN 2.0 XML with diagram interchange: open it in bpmn.io or Camunda Modeler,
    /// run it in SpiffWorkflow; docs/exports.md).
    #[arg(long, value_enum, default_value_t = Format::Mermaid)]
    pub format: Format,
}

/// Output syntax of `graph`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// Mermaid `flowchart`.
    Mermaid,
    /// Graphviz DOT.
    Dot,
    /// BPMN 2.0 XML with BPMNDI: lanes per department, a user task per member, gateways for
    /// the dependencies and conditions, milestones between stages.
    Bpmn,
}

/// Runs `graph`.
pub fn run(args: &Args, out: &mut dyn Write) -> Result<(), Failure> {
    let def = load_definition(&args.file)?;
    let bundle = find_bundle(&def, &args.bundle)?;
    let text = match args.format {
        Format::Mermaid => mermaid(&Graph::of(&def, bundle)),
        Format::Dot => dot(&Graph::of(&def, bundle)),
        Format::Bpmn => yichuang_export::bpmn::write(&def, bundle),
    };
    out.write_all(text.as_bytes())?;
    Ok(())
}

/// Fill colours for departments, in order of first use; light enough for black text.
const PALETTE: [&str; 12] = [
    "#cfe2ff", "#d1e7dd", "#fff3cd", "#f8d7da", "#e2d9f3", "#cff4fc", "#ffe5d0", "#e9f5c9", "#f7d6e6", "#fde2a7",
    "#c9e4de", "#dddddd",
];

/// A department that decides at least one member.
struct Dept {
    /// Index in the definition, used for stable class names.
    index: usize,
    name: String,
    colour: &'static str,
}

/// One member item.
struct Node {
    /// Position in `Bundle::members`.
    position: usize,
    name: String,
    /// Names of the deciding departments; more than one for a countersign (会签).
    departments: Vec<String>,
    /// The rule of several deciding departments: 会签, 或签 or 票签 k/n.
    countersign: Option<String>,
    promised_days: u32,
    /// `field = value` when the member applies only for that answer.
    condition: Option<String>,
    /// Positions in [`Graph::depts`] of the deciding departments.
    depts: Vec<usize>,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum EdgeKind {
    /// An `after` dependency into an unconditional member.
    After,
    /// An `after` dependency into a conditional member; labelled with the condition.
    Conditional,
    /// A stage gate: the next stage waits for this milestone (里程碑事项).
    Gate,
}

struct Edge {
    from: usize,
    to: usize,
    kind: EdgeKind,
}

struct StageBox {
    name: String,
    /// Member positions.
    members: Vec<usize>,
}

/// A bundle's graph, independent of the output syntax.
struct Graph {
    id: String,
    title: String,
    nodes: Vec<Node>,
    edges: Vec<Edge>,
    stages: Vec<StageBox>,
    depts: Vec<Dept>,
}

impl Graph {
    fn of(def: &Definition, bundle: &Bundle) -> Graph {
        let mut depts: Vec<Dept> = Vec::new();
        let mut nodes = Vec::new();
        for (position, member) in bundle.members.iter().enumerate() {
            let item = def.item(member.item);
            let mut node_depts = Vec::new();
            for &d in item.decided_by.departments() {
                let k = match depts.iter().position(|x| x.index == d.index()) {
                    Some(k) => k,
                    None => {
                        depts.push(Dept {
                            index: d.index(),
                            name: def.department(d).name.clone(),
                            colour: PALETTE[depts.len() % PALETTE.len()],
                        });
                        depts.len() - 1
                    }
                };
                node_depts.push(k);
            }
            nodes.push(Node {
                position,
                name: item.name.clone(),
                departments: node_depts.iter().map(|&k| depts[k].name.clone()).collect(),
                countersign: match &item.decided_by {
                    Decider::Department(_) => None,
                    Decider::Countersign(_) => Some("会签".to_owned()),
                    Decider::AnyOf(_) => Some("或签".to_owned()),
                    Decider::Vote { k, of } => Some(format!("票签 {k}/{}", of.len())),
                },
                promised_days: item.promised_days,
                condition: member.when.as_ref().map(|c| format!("{} = {}", def.field(c.field).id, c.equals)),
                depts: node_depts,
            });
        }
        let stages =
            bundle.stages.iter().map(|s| StageBox { name: s.name.clone(), members: s.members.clone() }).collect();
        Graph {
            id: bundle.id.to_string(),
            title: format!(
                "{} ({}), lead 牵头 {}, promised 承诺 {} wd",
                bundle.name,
                bundle.id,
                def.department(bundle.lead).name,
                bundle.promised_days
            ),
            edges: edges(bundle),
            nodes,
            stages,
            depts,
        }
    }

    /// Nodes outside every stage, in member order.
    fn unstaged(&self) -> impl Iterator<Item = &Node> {
        self.nodes.iter().filter(|n| !self.stages.iter().any(|s| s.members.contains(&n.position)))
    }

    /// Node label lines: name, departments, promised days, condition.
    fn label_lines(&self, node: &Node) -> Vec<String> {
        let departments = match &node.countersign {
            Some(rule) if rule == "或签" => format!("{rule} {}", node.departments.join(" | ")),
            Some(rule) => format!("{rule} {}", node.departments.join(" + ")),
            None => node.departments.join(" + "),
        };
        let mut lines = vec![node.name.clone(), departments, format!("{} wd", node.promised_days)];
        if let Some(c) = &node.condition {
            lines.push(format!("if {c}"));
        }
        lines
    }
}

/// Dependency edges in member order, then stage gates: every milestone of stage k − 1 into each
/// member of stage k that waits for nothing else inside its own stage.
fn edges(bundle: &Bundle) -> Vec<Edge> {
    let mut edges = Vec::new();
    for (to, member) in bundle.members.iter().enumerate() {
        let kind = if member.when.is_some() { EdgeKind::Conditional } else { EdgeKind::After };
        for &from in &member.after {
            edges.push(Edge { from, to, kind });
        }
    }
    for pair in bundle.stages.windows(2) {
        let (previous, stage) = (&pair[0], &pair[1]);
        let entries =
            stage.members.iter().filter(|&&m| !bundle.members[m].after.iter().any(|p| stage.members.contains(p)));
        for &to in entries {
            for &from in &previous.milestones {
                if !bundle.members[to].after.contains(&from) {
                    edges.push(Edge { from, to, kind: EdgeKind::Gate });
                }
            }
        }
    }
    edges
}

/// `text` on one line: every control character (newline, carriage return, tab, bell …) and the
/// Unicode line and paragraph separators become a space. Names come from the definition and may
/// contain them; in the output they would end a `%%` comment or a label and let the rest of the
/// name be read as diagram statements.
fn one_line(text: &str) -> String {
    text.chars().map(|c| if c.is_control() || matches!(c, '\u{2028}' | '\u{2029}') { ' ' } else { c }).collect()
}

/// Text inside a Mermaid `"…"` label or `%%` comment: on one line, quotes and angle brackets as
/// Mermaid entities.
fn mermaid_text(text: &str) -> String {
    one_line(text).replace('"', "#quot;").replace('<', "#lt;").replace('>', "#gt;")
}

fn mermaid(g: &Graph) -> String {
    let mut s = String::new();
    // The diagram type must come first; some renderers refuse a leading comment.
    s.push_str("flowchart LR\n");
    let _ = writeln!(s, "  %% {}", mermaid_text(&g.title));
    let node = |s: &mut String, n: &Node, indent: &str| {
        let label = g.label_lines(n).iter().map(|l| mermaid_text(l)).collect::<Vec<_>>().join("<br/>");
        let class = g.depts[n.depts[0]].index;
        let _ = writeln!(s, "{indent}m{}[\"{label}\"]:::dept_{class}", n.position);
    };
    for (k, stage) in g.stages.iter().enumerate() {
        let _ = writeln!(s, "  subgraph stage_{k}[\"{}\"]", mermaid_text(&stage.name));
        for &m in &stage.members {
            node(&mut s, &g.nodes[m], "    ");
        }
        s.push_str("  end\n");
    }
    for n in g.unstaged() {
        node(&mut s, n, "  ");
    }
    for e in &g.edges {
        let _ = match e.kind {
            EdgeKind::After => writeln!(s, "  m{} --> m{}", e.from, e.to),
            EdgeKind::Conditional => writeln!(
                s,
                "  m{} -.->|\"{}\"| m{}",
                e.from,
                mermaid_text(g.nodes[e.to].condition.as_deref().unwrap_or_default()),
                e.to
            ),
            EdgeKind::Gate => writeln!(s, "  m{} ==> m{}", e.from, e.to),
        };
    }
    s.push_str("  subgraph legend[\"departments 部门\"]\n");
    for d in &g.depts {
        let _ = writeln!(s, "    legend_{}[\"{}\"]:::dept_{}", d.index, mermaid_text(&d.name), d.index);
    }
    s.push_str("  end\n");
    for d in &g.depts {
        let _ = writeln!(s, "  classDef dept_{} fill:{},stroke:#555,color:#000", d.index, d.colour);
    }
    for n in g.nodes.iter().filter(|n| n.condition.is_some()) {
        let _ = writeln!(s, "  style m{} stroke-dasharray:5 5", n.position);
    }
    for n in g.nodes.iter().filter(|n| n.countersign.is_some()) {
        let _ = writeln!(s, "  style m{} stroke-width:3px", n.position);
    }
    s
}

/// Text inside a DOT `"…"` string: on one line, backslashes and quotes escaped.
fn dot_text(text: &str) -> String {
    one_line(text).replace('\\', "\\\\").replace('"', "\\\"")
}

fn dot(g: &Graph) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "digraph \"{}\" {{", dot_text(&g.id));
    let _ = writeln!(s, "  label=\"{}\";", dot_text(&g.title));
    s.push_str("  labelloc=t;\n  rankdir=LR;\n");
    s.push_str("  node [shape=box, style=\"rounded,filled\"];\n");
    let node = |s: &mut String, n: &Node, indent: &str| {
        let label = g.label_lines(n).iter().map(|l| dot_text(l)).collect::<Vec<_>>().join("\\n");
        let colours: Vec<&str> = n.depts.iter().map(|&k| g.depts[k].colour).collect();
        // Graphviz draws `striped` only on plain boxes, so countersign nodes lose the rounding.
        let mut style = vec![if n.countersign.is_some() { "filled,striped" } else { "rounded,filled" }];
        if n.condition.is_some() {
            style.push("dashed");
        }
        let _ = writeln!(
            s,
            "{indent}m{} [label=\"{label}\", style=\"{}\", fillcolor=\"{}\"];",
            n.position,
            style.join(","),
            colours.join(":")
        );
    };
    for (k, stage) in g.stages.iter().enumerate() {
        let _ = writeln!(s, "  subgraph cluster_stage_{k} {{");
        let _ = writeln!(s, "    label=\"{}\";", dot_text(&stage.name));
        for &m in &stage.members {
            node(&mut s, &g.nodes[m], "    ");
        }
        s.push_str("  }\n");
    }
    for n in g.unstaged() {
        node(&mut s, n, "  ");
    }
    for e in &g.edges {
        let _ = match e.kind {
            EdgeKind::After => writeln!(s, "  m{} -> m{};", e.from, e.to),
            EdgeKind::Conditional => writeln!(
                s,
                "  m{} -> m{} [style=dashed, label=\"{}\"];",
                e.from,
                e.to,
                dot_text(g.nodes[e.to].condition.as_deref().unwrap_or_default())
            ),
            EdgeKind::Gate => writeln!(s, "  m{} -> m{} [style=bold, color=\"#888888\"];", e.from, e.to),
        };
    }
    s.push_str("  subgraph cluster_legend {\n    label=\"departments 部门\";\n");
    for d in &g.depts {
        let _ = writeln!(s, "    legend_{} [label=\"{}\", fillcolor=\"{}\"];", d.index, dot_text(&d.name), d.colour);
    }
    s.push_str("  }\n}\n");
    s
}
