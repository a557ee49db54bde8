//! Every kind of definition problem is reported at once, with its path and what to fix.

use yichuang_core::Definition;

/// A small valid definition; tests replace one marked piece to break it.
const BASE: &str = r#"Definition(
    id: "t", name: "测试",
    departments: [(id: "a", name: "甲科"), (id: "b", name: "乙科"), (id: "sup", name: "效能监察科", kind: Supervision)],
    windows: [(id: "w", name: "综合受理窗", class: Intake)],
    materials: [(id: "m", name: "材料", shared_source: "共享库")],
    fields: [(id: "f", label: "是否", choices: ["是", "否"])],
    items: [
        (id: "x", code: "X", name: "甲事项", decided_by: Department("a"), kind: Promised, statutory_days: 10, promised_days: 5,
         result: "证", channels: [Window], materials: [(material: "m", need: Required)], form_fields: ["f"]),
        (id: "y", code: "Y", name: "乙事项", decided_by: Department("b"), kind: Promised, statutory_days: 10, promised_days: 5,
         result: "证", channels: [Window]),
    ],
    bundles: [(id: "bx", name: "一件事", lead: "a", promised_days: 10,
               members: [(item: "x"), (item: "y", after: ["x"])])],
    calendar: (years: [(year: 2026, holidays: [(name: "元旦", from: "2026-01-01", to: "2026-01-03")],
                        makeup_workdays: ["2026-01-04"])],
               office_hours: [("09:00", "12:00"), ("13:30", "17:30")]),
    plan: (title: "方案", tasks: [(id: "p", name: "任务", leader: "甲", departments: ["a"], deadline: "2026-12-31")]),
)"#;

fn problems(source: &str) -> Vec<String> {
    match Definition::from_ron(source, "test.ron") {
        Ok(_) => Vec::new(),
        Err(d) => d.0.iter().map(|d| format!("{} @ {} | {}", d.message, d.path, d.help)).collect(),
    }
}

fn with(from: &str, to: &str) -> String {
    assert!(BASE.contains(from), "the base has no `{from}`");
    BASE.replacen(from, to, 1)
}

#[test]
fn the_base_is_valid_and_accepts_implicit_some() {
    assert_eq!(problems(BASE), Vec::<String>::new());
    let def = Definition::from_ron(BASE, "test.ron").unwrap();
    assert_eq!(def.materials()[0].shared_source.as_deref(), Some("共享库"), "bare value for an Option field");
    assert_eq!(def.bundles()[0].critical_days, 10);
}

#[test]
fn a_critical_path_longer_than_the_promise_names_the_path() {
    let p = problems(&with("promised_days: 10,\n               members", "promised_days: 9,\n               members"));
    assert_eq!(p.len(), 1, "{p:?}");
    assert!(p[0].contains("x → y") && p[0].contains("10") && p[0].contains("bundles[bx].promised_days"), "{p:?}");
}

/// 行政许可法 Art. 42 ¶2: a joint bundle takes at most 45 working days, 60 with the county
/// government's approved extension, and never more.
#[test]
fn a_joint_bundle_promises_at_most_the_legal_limit() {
    let promise = |days: u32, extension: &str| {
        problems(&with(
            "promised_days: 10,\n               members",
            &format!("promised_days: {days},{extension}\n               members"),
        ))
    };
    assert_eq!(promise(45, ""), Vec::<String>::new());
    let p = promise(46, "");
    assert_eq!(p.len(), 1, "{p:?}");
    assert!(
        p[0].contains("promised limit 46 wd exceeds the legal limit of a joint bundle, 45 wd")
            && p[0].contains("Art. 42")
            && p[0].contains("bundles[bx].promised_days")
            && p[0].contains("government_extension: true"),
        "{p:?}"
    );
    assert_eq!(promise(60, " government_extension: true,"), Vec::<String>::new());
    let def = Definition::from_ron(
        &with(
            "promised_days: 10,\n               members",
            "promised_days: 60, government_extension: true,\n               members",
        ),
        "test.ron",
    )
    .expect("60 days with the extension is lawful");
    assert!(def.bundles()[0].government_extension);
    let p = promise(61, " government_extension: true,");
    assert_eq!(p.len(), 1, "{p:?}");
    assert!(p[0].contains("60 wd with the government's extension") && p[0].contains("at most 60"), "{p:?}");
}

#[test]
fn many_problems_are_reported_together() {
    let source = with(r#"(id: "b", name: "乙科")"#, r#"(id: "a", name: "乙科")"#) // duplicate id
        .replacen(r#"decided_by: Department("b")"#, r#"decided_by: Department("sup")"#, 1) // supervision decides
        .replacen("kind: Promised, statutory_days: 10, promised_days: 5,\n         result: \"证\", channels: [Window], materials",
                  "kind: Immediate, statutory_days: 10, promised_days: 5,\n         result: \"证\", channels: [Window], materials", 1)
        .replacen(r#"makeup_workdays: ["2026-01-04"]"#, r#"makeup_workdays: ["2026-01-05"]"#, 1); // a Monday
    let p = problems(&source);
    let expect = ["duplicate id `a`", "supervision section", "Immediate item", "cannot be a make-up working day"];
    for e in expect {
        assert!(p.iter().any(|x| x.contains(e)), "missing `{e}` in {p:#?}");
    }
    assert!(p.iter().all(|x| !x.ends_with("| ")), "every problem says what to fix: {p:#?}");
}

#[test]
fn a_plan_date_outside_the_calendar_names_the_missing_year() {
    let p = problems(&with(r#"deadline: "2026-12-31""#, r#"deadline: "2027-03-01""#));
    assert!(p.iter().any(|x| x.contains("does not cover a year") && x.contains("2027")), "{p:?}");
}

#[test]
fn bundle_shape_problems() {
    let p = problems(&with("members: [(item: \"x\"), (item: \"y\", after: [\"x\"])]", "members: []"));
    assert!(p.iter().any(|x| x.contains("has no members")), "{p:?}");
    let all_conditional = with(
        "members: [(item: \"x\"), (item: \"y\", after: [\"x\"])]",
        "members: [(item: \"x\", when: (field: \"f\", equals: \"是\"))]",
    );
    let p = problems(&all_conditional);
    assert!(p.iter().any(|x| x.contains("every member")), "{p:?}");
    let bad_answer =
        with("(item: \"y\", after: [\"x\"])", "(item: \"y\", after: [\"x\"], when: (field: \"f\", equals: \"也许\"))");
    let p = problems(&bad_answer);
    assert!(p.iter().any(|x| x.contains("也许") && x.contains("是, 否")), "{p:?}");
    let countersign = with(r#"decided_by: Department("b")"#, r#"decided_by: Countersign(["b"])"#);
    assert!(problems(&countersign).iter().any(|x| x.contains("at least two distinct departments")));
}

#[test]
fn an_unknown_reference_lists_what_exists() {
    let p = problems(&with("(item: \"y\", after: [\"x\"])", "(item: \"z\", after: [\"x\"])"));
    assert!(
        p.iter()
            .any(|x| x.contains("unknown item `z`") && x.contains("bundles[bx].members[1].item") && x.contains("x, y")),
        "{p:?}"
    );
}

/// Calendar years are refused outside the supported range, with the range named, and never
/// panic: the extreme values once overflowed `Calendar::build` and the day arithmetic.
#[test]
fn calendar_years_outside_the_supported_range_are_refused() {
    for year in ["-2147483648", "2147483647", "6000000", "-5", "0", "1899", "3000"] {
        let source = with(
            "year: 2026, holidays: [(name: \"元旦\", from: \"2026-01-01\", to: \"2026-01-03\")],\n                        makeup_workdays: [\"2026-01-04\"]",
            &format!("year: {year}, holidays: []"),
        );
        let p = problems(&source);
        assert!(
            p.iter().any(|x| x.contains(&format!("calendar year {year} is outside the supported range 1900–2999"))
                && x.contains(&format!("calendar.years[{year}].year"))
                && x.contains("1900 to 2999")),
            "{year}: {p:#?}"
        );
    }
    // The ends of the range are accepted (the plan's deadline must then move with the year).
    for year in [1900, 2999] {
        let source = with(
            "year: 2026, holidays: [(name: \"元旦\", from: \"2026-01-01\", to: \"2026-01-03\")],\n                        makeup_workdays: [\"2026-01-04\"]",
            &format!("year: {year}, holidays: []"),
        )
        .replacen("2026-12-31", &format!("{year}-12-31"), 1);
        assert_eq!(problems(&source), Vec::<String>::new(), "{year}");
    }
}

/// docs/definitions.md: optional values may be written bare or with `Some(…)` (the loader turns on
/// `implicit_some`), and the `#![enable(implicit_some)]` attribute is harmless.
#[test]
fn optional_values_are_accepted_bare_or_with_some() {
    let some = with(r#"shared_source: "共享库""#, r#"shared_source: Some("共享库")"#);
    assert_eq!(problems(&some), Vec::<String>::new());
    let attribute = format!("#![enable(implicit_some)]\n{BASE}");
    assert_eq!(problems(&attribute), Vec::<String>::new());
    for simulated in [
        r#"simulated_approval: (precondition: "land-obtained")"#,
        r#"simulated_approval: Some((precondition: "land-obtained"))"#,
        r#"simulated_approval: (precondition: "land-obtained", validity_days: 60)"#,
        r#"simulated_approval: Some((precondition: "land-obtained", validity_days: Some(60)))"#,
    ] {
        let source =
            with("result: \"证\", channels: [Window]),", &format!("result: \"证\", channels: [Window], {simulated}),"));
        let def = Definition::from_ron(&source, "test.ron").unwrap_or_else(|d| panic!("{simulated}: {d}"));
        let sim = def.items()[1].simulated_approval.as_ref().expect("set");
        assert_eq!(sim.precondition.as_str(), "land-obtained", "{simulated}");
    }
    let warning = with("plan: (", "policies: (warning_percent: 80, default_rating: Some(5)),\n    plan: (");
    let def = Definition::from_ron(&warning, "test.ron").unwrap_or_else(|d| panic!("{d}"));
    assert_eq!((def.policies().warning_percent, def.policies().default_rating), (80, 5));
}

/// docs/definitions.md: a bundle has at most 64 members.
#[test]
fn a_bundle_has_at_most_64_members() {
    let bundle_of = |n: usize| {
        let items: String = (0..n)
            .map(|i| format!("(id: \"i{i}\", code: \"I\", name: \"事项\", decided_by: Department(\"a\"), kind: Immediate, statutory_days: 0, promised_days: 0, result: \"证\", channels: [Window]),\n"))
            .collect();
        let members: Vec<String> = (0..n).map(|i| format!("(item: \"i{i}\")")).collect();
        with("items: [\n", &format!("items: [\n{items}")).replacen(
            "bundles: [",
            &format!(
                "bundles: [(id: \"big\", name: \"大\", lead: \"a\", promised_days: 0, members: [{}]),\n",
                members.join(", ")
            ),
            1,
        )
    };
    assert_eq!(problems(&bundle_of(64)), Vec::<String>::new());
    let p = problems(&bundle_of(65));
    assert_eq!(p.len(), 1, "{p:?}");
    assert!(p[0].contains("has 65 members; a bundle has at most 64") && p[0].contains("bundles[big].members"), "{p:?}");
}

/// Thousands of problems are all reported, each at its own line and column. (Locating them once
/// re-scanned the text from the start for each, quadratic in the number of problems; no timing is
/// asserted here.)
#[test]
fn thousands_of_problems_are_all_reported_and_located() {
    let n = 3000;
    let items: String = (0..n)
        .map(|i| {
            format!(
                "        (id: \"i{i}\", code: \"I\", name: \"事项\", decided_by: Department(\"nope-{i}\"), kind: Immediate, \
                 statutory_days: 0, promised_days: 0, result: \"证\", channels: [Window]),\n"
            )
        })
        .collect();
    let source = with("items: [\n", &format!("items: [\n{items}"));
    let diagnostics = Definition::from_ron(&source, "big.ron").expect_err("every item is wrong").0;
    assert_eq!(diagnostics.len(), n, "one problem per item");
    // Where each `"nope-i"` is, from one pass over the lines.
    let expected: Vec<(usize, usize)> = source
        .lines()
        .enumerate()
        .filter_map(|(l, line)| line.find("\"nope-").map(|at| (l + 1, line[..at].chars().count() + 1)))
        .collect();
    assert_eq!(expected.len(), n);
    for (i, d) in diagnostics.iter().enumerate() {
        assert_eq!(d.path, format!("items[i{i}].decided_by"));
        assert_eq!(d.location, Some(expected[i]), "{d:?}");
    }
}

/// 或签 (`AnyOf`) and 票签 (`Vote`) problems are reported at their positions: k of 0 or above the
/// number of departments, a department listed twice, an unknown department, fewer than two, and
/// levels on an item several departments decide.
#[test]
fn any_of_and_vote_problems_are_located() {
    let located = |from: &str, to: &str| {
        let source = with(from, to);
        let diagnostics = Definition::from_ron(&source, "test.ron").expect_err("refused").0;
        diagnostics
            .iter()
            .map(|d| {
                let (line, col) = d.location.expect("located");
                let text: String = source.lines().nth(line - 1).unwrap().chars().skip(col - 1).take(6).collect();
                (d.message.clone(), d.path.clone(), text)
            })
            .collect::<Vec<_>>()
    };
    let p = located(r#"decided_by: Department("b")"#, r#"decided_by: Vote(k: 3, of: ["a", "b"])"#);
    assert_eq!(p.len(), 1, "{p:?}");
    assert!(p[0].0.contains("k approvals of 2 departments, but k is 3"), "{p:?}");
    assert_eq!((p[0].1.as_str(), p[0].2.as_str()), ("items[y].decided_by.k", "3, of:"));
    let p = located(r#"decided_by: Department("b")"#, r#"decided_by: Vote(k: 0, of: ["a", "zz"])"#);
    assert!(p.iter().any(|x| x.0.contains("but k is 0") && x.1 == "items[y].decided_by.k"), "{p:?}");
    assert!(
        p.iter().any(|x| x.0 == "unknown department `zz`" && x.1 == "items[y].decided_by.of[1]" && x.2 == "\"zz\"])"),
        "{p:?}"
    );
    let p = located(r#"decided_by: Department("b")"#, r#"decided_by: AnyOf(["a", "b", "a"])"#);
    assert_eq!(p.len(), 1, "{p:?}");
    assert!(p[0].0.contains("`a` is listed twice"), "{p:?}");
    assert_eq!((p[0].1.as_str(), p[0].2.as_str()), ("items[y].decided_by[2]", "\"a\"]),"));
    let p = located(r#"decided_by: Department("b")"#, r#"decided_by: AnyOf(["a"])"#);
    assert!(p.iter().any(|x| x.0.contains("或签 (AnyOf) lists 1 department")), "{p:?}");
    let levelled = with(
        r#"decided_by: Department("b")"#,
        r#"decided_by: Vote(k: 1, of: ["a", "b"]), levels: [(name: "承办"), (name: "批准")]"#,
    );
    assert!(problems(&levelled).iter().any(|x| x.contains("decided by a vote (票签)")), "{:?}", problems(&levelled));
    // Valid sets load.
    for ok in [r#"decided_by: AnyOf(["a", "b"])"#, r#"decided_by: Vote(k: 2, of: ["a", "b"])"#] {
        assert_eq!(problems(&with(r#"decided_by: Department("b")"#, ok)), Vec::<String>::new(), "{ok}");
    }
}
