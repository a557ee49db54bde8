//! The BPMN export of every bundle of every example definition, read back with an XML parser:
//! references resolve, each member is one user task in its department's lane, every element has
//! its diagram shape, and no two shapes overlap. (Schema validation and execution are in the
//! Python check with SpiffWorkflow, tests/python/check_bpmn.py.)

use std::collections::{BTreeMap, BTreeSet};

use yichuang::prelude::Definition;

const MODEL: &str = "http://www.omg.org/spec/BPMN/20100524/MODEL";

fn examples() -> Vec<(String, Definition)> {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../../examples/definitions");
    let mut out = Vec::new();
    let mut paths: Vec<_> = std::fs::read_dir(dir).expect("examples").map(|e| e.expect("entry").path()).collect();
    paths.sort();
    for path in paths.into_iter().filter(|p| p.extension().is_some_and(|e| e == "ron")) {
        let text = std::fs::read_to_string(&path).expect("readable");
        let name = path.display().to_string();
        out.push((name.clone(), Definition::from_ron(&text, &name).expect("valid example")));
    }
    assert!(out.len() >= 4, "the four example definitions");
    out
}

#[test]
fn every_bundle_exports_a_consistent_laid_out_process() {
    let mut bundles = 0;
    for (name, def) in examples() {
        for bundle in def.bundles() {
            bundles += 1;
            let text = yichuang_export::bpmn::write(&def, bundle);
            check(&def, bundle, &text).unwrap_or_else(|e| panic!("{name} {}: {e}", bundle.id));
        }
    }
    assert!(bundles >= 8);
}

fn check(def: &Definition, bundle: &yichuang::definition::Bundle, text: &str) -> Result<(), String> {
    let doc = roxmltree::Document::parse(text).map_err(|e| e.to_string())?;
    let model = |n: &roxmltree::Node, tag: &str| n.tag_name().namespace() == Some(MODEL) && n.tag_name().name() == tag;
    let process = doc.descendants().find(|n| model(n, "process")).ok_or("no process")?;
    let ids: BTreeSet<&str> = doc.descendants().filter_map(|n| n.attribute("id")).collect();
    let all_ids = doc.descendants().filter_map(|n| n.attribute("id")).count();
    if ids.len() != all_ids {
        return Err("duplicate ids".into());
    }
    let flows: Vec<_> = process.children().filter(|n| model(n, "sequenceFlow")).collect();
    let nodes: Vec<_> = process
        .children()
        .filter(|n| n.is_element() && !model(n, "sequenceFlow") && !model(n, "laneSet") && !model(n, "documentation"))
        .collect();
    let node_ids: BTreeSet<&str> = nodes.iter().filter_map(|n| n.attribute("id")).collect();
    for f in &flows {
        for end in ["sourceRef", "targetRef"] {
            let target = f.attribute(end).ok_or("flow without end")?;
            if !node_ids.contains(target) {
                return Err(format!("flow {:?} points at {target}", f.attribute("id")));
            }
        }
    }
    // Each member is one user task, in the lane of its (first) deciding department.
    let lanes: BTreeMap<&str, Vec<&str>> = doc
        .descendants()
        .filter(|n| model(n, "lane"))
        .map(|lane| {
            let refs = lane.children().filter(|c| model(c, "flowNodeRef")).filter_map(|c| c.text()).collect();
            (lane.attribute("name").unwrap_or_default(), refs)
        })
        .collect();
    let in_lanes: Vec<&str> = lanes.values().flatten().copied().collect();
    if in_lanes.len() != node_ids.len() || in_lanes.iter().copied().collect::<BTreeSet<_>>() != node_ids {
        return Err("every node is in exactly one lane".into());
    }
    for (m, member) in bundle.members.iter().enumerate() {
        let id = format!("Task_m{m}");
        let task = nodes.iter().find(|n| n.attribute("id") == Some(id.as_str())).ok_or(format!("no {id}"))?;
        if !model(task, "userTask") {
            return Err(format!("{id} is not a user task"));
        }
        let item = def.item(member.item);
        let department = &def.department(item.decided_by.departments()[0]).name;
        if !lanes.get(department.as_str()).is_some_and(|refs| refs.contains(&id.as_str())) {
            return Err(format!("{id} is not in the lane of {department}"));
        }
        // A conditional member sits behind an exclusive gateway with a default flow.
        if member.when.is_some() {
            let incoming = flows.iter().find(|f| f.attribute("targetRef") == Some(id.as_str())).ok_or("no incoming")?;
            if incoming.children().all(|c| !model(&c, "conditionExpression")) {
                return Err(format!("{id} is conditional but its flow has no condition"));
            }
        }
    }
    let tasks = nodes.iter().filter(|n| model(n, "userTask")).count();
    if tasks != bundle.members.len() + 2 {
        return Err(format!("{tasks} user tasks for {} members, intake and delivery", bundle.members.len()));
    }
    // The diagram: one shape per node and lane, one edge per flow, no two node shapes overlap.
    let shapes: BTreeMap<&str, (i64, i64, i64, i64)> = doc
        .descendants()
        .filter(|n| n.tag_name().name() == "BPMNShape")
        .map(|s| {
            let b = s.children().find(|c| c.tag_name().name() == "Bounds").expect("bounds");
            let v = |k: &str| b.attribute(k).and_then(|x| x.parse().ok()).expect("number");
            (s.attribute("bpmnElement").expect("element"), (v("x"), v("y"), v("width"), v("height")))
        })
        .collect();
    let edges = doc.descendants().filter(|n| n.tag_name().name() == "BPMNEdge").count();
    if edges != flows.len() {
        return Err(format!("{edges} edges for {} flows", flows.len()));
    }
    let placed: Vec<_> = node_ids.iter().map(|id| (id, shapes.get(id).copied())).collect();
    for (id, bounds) in &placed {
        bounds.ok_or(format!("{id} has no shape"))?;
    }
    for (i, (a, ba)) in placed.iter().enumerate() {
        for (b, bb) in &placed[i + 1..] {
            let ((x1, y1, w1, h1), (x2, y2, w2, h2)) = (ba.expect("placed"), bb.expect("placed"));
            if x1 < x2 + w2 && x2 < x1 + w1 && y1 < y2 + h2 && y2 < y1 + h1 {
                return Err(format!("{a} and {b} overlap"));
            }
        }
    }
    Ok(())
}

#[test]
fn stages_become_milestones_and_any_stages_signals() {
    let text =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../examples/definitions/county-hall.ron"))
            .expect("example");
    let def = Definition::from_ron(&text, "county-hall.ron").expect("valid");
    let bundle = def.bundle(def.bundle_ix("industrial-project").expect("bundle"));
    let xml = yichuang_export::bpmn::write(&def, bundle);
    // Three of the four stages gate a next one; stage 2 (工程建设许可) completes on any milestone.
    for stage in &bundle.stages[..3] {
        assert!(xml.contains(&format!("阶段完成：{}", stage.name)), "{}", stage.name);
    }
    assert!(!xml.contains(&format!("阶段完成：{}", bundle.stages[3].name)));
    assert_eq!(xml.matches("<bpmn:signal ").count(), 1);
    let milestones = bundle.stages[1].milestones.len();
    assert_eq!(xml.matches("<bpmn:intermediateThrowEvent").count(), 2 + milestones, "two All gates, the throws");
    assert_eq!(xml.matches("<bpmn:intermediateCatchEvent").count(), 1);
}

#[test]
fn names_cannot_break_the_document() {
    let text = include_str!("../../../examples/definitions/minimal.ron").replacen(
        "name: \"",
        "name: \"<x>&\\\"]]></bpmn:process>\u{1}",
        3,
    );
    let def = Definition::from_ron(&text, "minimal.ron").expect("still valid");
    for bundle in def.bundles() {
        let xml = yichuang_export::bpmn::write(&def, bundle);
        roxmltree::Document::parse(&xml).expect("well-formed");
        assert_eq!(xml.matches("</bpmn:process>").count(), 1);
    }
}
