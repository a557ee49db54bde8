//! Transition specs: every machine's transitions declared once, as typed rows.
//!
//! A machine (case, task, ticket) is declared with [`machine_spec!`](crate::machine_spec): its states, the kinds of
//! its commands, timers and cascades are fieldless enums implementing [`Kind`], and every
//! transition is one [`Row`]: *from* a state, on a [`Trigger`], *to* one of a few states, with
//! the rule in a few words. Everything else is derived from the rows:
//!
//! - **dispatch**: a machine's `decide` first asks [`admit`] whether the command is declared
//!   for the current state (an O(1) look-up in a table the compiler builds from the rows); a
//!   command not declared there is refused with [`Refused`], which lists what the state does
//!   accept. Guards (materials complete, the right department …) stay ordinary Rust in the
//!   command's handler, after the spec admitted it;
//! - **the tables and diagrams** in `docs/state-machines.md` ([`markdown`], [`mermaid`]);
//! - **the checker's moves** (`yichuang-analysis`): in each state it proposes exactly the
//!   commands [`commands_in`] lists;
//! - **transition coverage**: every transition the engine takes is reported to [`taken`],
//!   which (in debug builds) asserts that the landing state is one the row declares, and with
//!   the feature `transition-coverage` records the row, so that a test can fail when a
//!   declared row is never taken by the test suite.
//!
//! Adding a transition is one row plus its guard (in the command's handler) and its evolve arm.
//!
//! ```
//! use yichuang_core::machine::spec::{self, Machine};
//! use yichuang_core::machine::case::{CaseMachine, CaseState, CommandKind};
//!
//! // Accept is declared for a received case, and for nothing else.
//! assert!(spec::admit::<CaseMachine>(CaseState::Received, CommandKind::Accept).is_ok());
//! let refused = spec::admit::<CaseMachine>(CaseState::Delivered, CommandKind::Accept).unwrap_err();
//! assert_eq!(refused.accepted, vec![CommandKind::Supply, CommandKind::Rate]);
//! assert!(spec::mermaid::<CaseMachine>().contains("Received --> InApproval: accept"));
//! ```

use std::fmt::{self, Debug, Write as _};

/// A fieldless enum whose values are listed and named: a machine's states, or the kinds of its
/// commands, timers and cascades.
pub trait Kind: Copy + Eq + Ord + Debug + 'static {
    /// Every value, in declaration order.
    const ALL: &'static [Self];
    /// The name used in tables, diagrams, messages and the checker's traces.
    fn name(self) -> &'static str;
}

/// What makes a machine move.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Trigger<C, T, K> {
    /// A command of an actor.
    Command(C),
    /// A timer the engine fires (`Engine::advance_to`).
    Timer(T),
    /// A step that follows from the state without any command (the cascade).
    Cascade(K),
}

/// One declared transition.
pub struct Row<M: Machine> {
    /// The source state.
    pub from: M::State,
    /// What triggers it.
    pub trigger: Trigger<M::Command, M::Timer, M::Cascade>,
    /// The states it may land in (several when guards or the data choose).
    pub to: &'static [M::State],
    /// The rule in a few words.
    pub rule: &'static str,
}

impl<M: Machine> Row<M> {
    /// The trigger's label on a diagram edge or in a table: `accept`, `⏱ cure due`,
    /// `[every task terminal]`.
    pub fn label(&self) -> String {
        match self.trigger {
            Trigger::Command(c) => c.name().to_owned(),
            Trigger::Timer(t) => format!("⏱ {}", t.name()),
            Trigger::Cascade(k) => format!("[{}]", k.name()),
        }
    }
}

impl<M: Machine> Debug for Row<M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} --{}--> {:?}", self.from.name(), self.label(), self.to)
    }
}

/// A machine declared by its rows (see [`machine_spec!`](crate::machine_spec)).
pub trait Machine: Sized + 'static {
    /// Its states.
    type State: Kind;
    /// The kinds of its commands.
    type Command: Kind;
    /// The kinds of its timers.
    type Timer: Kind;
    /// The kinds of its cascade steps.
    type Cascade: Kind;
    /// Its name in messages: `case`, `task`, `ticket`.
    const NAME: &'static str;
    /// Its title in documents, e.g. `Case 办件`.
    const TITLE: &'static str;
    /// The states a new stream starts in.
    const INITIAL: &'static [Self::State];
    /// The final states (no row leaves them).
    const FINAL: &'static [Self::State];
    /// Every row, in declaration order.
    const ROWS: &'static [Row<Self>];
    /// The row declaring `command` in `state` (O(1)): at most one row per pair, which the
    /// compiler checks when it builds the look-up table.
    fn command_row(state: Self::State, command: Self::Command) -> Option<usize>;
}

/// A command the spec does not declare for the current state: the state, the command, and
/// every command the state does accept (empty when only timers or the cascade move it on).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refused<M: Machine> {
    /// The state the stream is in.
    pub state: M::State,
    /// The command refused.
    pub command: M::Command,
    /// What the state accepts, in declaration order.
    pub accepted: Vec<M::Command>,
}

/// Whether the spec declares `command` in `state`: the row's index, or the refusal. One load
/// from the table the compiler built; the refusal is built out of line.
#[inline(always)]
pub fn admit<M: Machine>(state: M::State, command: M::Command) -> Result<usize, Refused<M>> {
    match M::command_row(state, command) {
        Some(row) => Ok(row),
        None => Err(refuse(state, command)),
    }
}

#[cold]
#[inline(never)]
fn refuse<M: Machine>(state: M::State, command: M::Command) -> Refused<M> {
    Refused { state, command, accepted: commands_in::<M>(state).collect() }
}

/// Whether transitions are reported to [`taken`] at all: in debug builds (the landing check)
/// and with the feature `transition-coverage`. Release builds skip the look-ups entirely.
pub const REPORTS: bool = cfg!(any(debug_assertions, feature = "transition-coverage"));

/// The commands declared in `state`, in declaration order (what the checker proposes there).
pub fn commands_in<M: Machine>(state: M::State) -> impl Iterator<Item = M::Command> {
    M::Command::ALL.iter().copied().filter(move |&c| M::command_row(state, c).is_some())
}

/// The row of a timer in a state, if declared.
pub fn timer_row<M: Machine>(state: M::State, timer: M::Timer) -> Option<usize> {
    M::ROWS.iter().position(|r| r.from == state && r.trigger == Trigger::Timer(timer))
}

/// The row of a cascade step in a state, if declared.
pub fn cascade_row<M: Machine>(state: M::State, cascade: M::Cascade) -> Option<usize> {
    M::ROWS.iter().position(|r| r.from == state && r.trigger == Trigger::Cascade(cascade))
}

/// Reports a transition the engine took: row `row`, landing in `to`. In debug builds it
/// asserts that `to` is a target the row declares (a programmer error otherwise: the code and
/// the spec disagree); with the feature `transition-coverage` it records the row for
/// `crate::coverage`. In release builds without the feature it compiles to nothing.
#[inline(always)]
pub fn taken<M: Machine>(row: usize, to: M::State) {
    // A deliberately broken rule (tests only) departs from the spec on purpose: the invariants,
    // not this check, must catch it.
    #[cfg(feature = "fault-injection")]
    let to = if crate::fault::any_active() { M::ROWS[row].to[0] } else { to };
    debug_assert!(
        M::ROWS[row].to.contains(&to),
        "{} row {:?} landed in {}, which the row does not declare",
        M::NAME,
        M::ROWS[row],
        to.name()
    );
    #[cfg(feature = "transition-coverage")]
    crate::coverage::record(M::NAME, row);
}

/// Reports a timer that fired in `from` and left the stream in `to` (see [`taken`]); a timer
/// the spec does not declare in `from` is a programmer error, asserted in debug builds.
#[inline(always)]
pub fn timer_taken<M: Machine>(from: M::State, timer: M::Timer, to: M::State) {
    #[cfg(any(debug_assertions, feature = "transition-coverage"))]
    match timer_row::<M>(from, timer) {
        Some(row) => taken::<M>(row, to),
        None => {
            panic!("{} timer `{}` fired in {}, which the spec does not declare", M::NAME, timer.name(), from.name())
        }
    }
    #[cfg(not(any(debug_assertions, feature = "transition-coverage")))]
    let _ = (from, timer, to);
}

/// Reports a cascade step taken in `from` that left the stream in `to` (see [`taken`]).
#[inline(always)]
pub fn cascade_taken<M: Machine>(from: M::State, cascade: M::Cascade, to: M::State) {
    #[cfg(any(debug_assertions, feature = "transition-coverage"))]
    match cascade_row::<M>(from, cascade) {
        Some(row) => taken::<M>(row, to),
        None => {
            panic!("{} cascade `{}` taken in {}, which the spec does not declare", M::NAME, cascade.name(), from.name())
        }
    }
    #[cfg(not(any(debug_assertions, feature = "transition-coverage")))]
    let _ = (from, cascade, to);
}

/// The rows as a Markdown table: from, trigger, to, rule.
pub fn markdown<M: Machine>() -> String {
    let mut out = String::from("| from | trigger | to | rule |\n|---|---|---|---|\n");
    for row in M::ROWS {
        let to: Vec<&str> = row.to.iter().map(|s| s.name()).collect();
        let _ = writeln!(out, "| {} | {} | {} | {} |", row.from.name(), row.label(), to.join(" / "), row.rule);
    }
    out
}

/// The rows as a Mermaid `stateDiagram-v2`: start arrows to the initial states, one edge per
/// row and target (self-loops of rows with several targets are left out as noise), end arrows
/// from the final states. A command declared in four or more states with the same single
/// target (withdraw) is drawn once, from a composite "any of these states" node.
pub fn mermaid<M: Machine>() -> String {
    let mut out = String::from("stateDiagram-v2\n");
    for s in M::INITIAL {
        let _ = writeln!(out, "    [*] --> {}", s.name());
    }
    let fan_in = fan_in_commands::<M>();
    for row in M::ROWS {
        if matches!(row.trigger, Trigger::Command(c) if fan_in.iter().any(|(f, _)| *f == c)) {
            continue;
        }
        for to in row.to {
            if *to == row.from && row.to.len() > 1 {
                continue;
            }
            let _ = writeln!(out, "    {} --> {}: {}", row.from.name(), to.name(), row.label());
        }
    }
    for (i, (command, to)) in fan_in.iter().enumerate() {
        let from: Vec<&str> =
            M::ROWS.iter().filter(|r| r.trigger == Trigger::Command(*command)).map(|r| r.from.name()).collect();
        let _ = writeln!(out, "    state \"{}\" as Any{i}", from.join(", "));
        let _ = writeln!(out, "    Any{i} --> {}: {}", to.name(), command.name());
    }
    for s in M::FINAL {
        let _ = writeln!(out, "    {} --> [*]", s.name());
    }
    out
}

/// Commands declared in four or more states, always with the same single target.
fn fan_in_commands<M: Machine>() -> Vec<(M::Command, M::State)> {
    let mut out = Vec::new();
    for &c in M::Command::ALL {
        let rows: Vec<&Row<M>> = M::ROWS.iter().filter(|r| r.trigger == Trigger::Command(c)).collect();
        if let [first, ..] = rows[..]
            && rows.len() >= 4
            && rows.iter().all(|r| r.to.len() == 1 && r.to[0] == first.to[0])
        {
            out.push((c, first.to[0]));
        }
    }
    out
}

/// Declares a fieldless enum that implements [`Kind`]: each variant with its doc comment and,
/// optionally, `= "name"` (the variant's identifier otherwise).
#[macro_export]
#[doc(hidden)]
macro_rules! kind_enum {
    (
        $(#[$meta:meta])*
        $vis:vis enum $name:ident {
            $( $(#[$vmeta:meta])* $variant:ident $(= $label:literal)? ),+ $(,)?
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
        $vis enum $name {
            $( $(#[$vmeta])* $variant ),+
        }

        impl $name {
            /// Every value, in declaration order.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            /// The name used in tables, diagrams, messages and traces.
            pub fn name(self) -> &'static str {
                match self {
                    $( $name::$variant => $crate::kind_enum!(@label $variant $(, $label)?) ),+
                }
            }
        }

        impl $crate::machine::spec::Kind for $name {
            const ALL: &'static [$name] = $name::ALL;
            fn name(self) -> &'static str {
                $name::name(self)
            }
        }
    };
    (@label $variant:ident) => { stringify!($variant) };
    (@label $variant:ident, $label:literal) => { $label };
}

/// Declares a machine: a unit type implementing [`Machine`] with its rows and the O(1) table
/// from (state, command) to the row that the compiler builds from them (two rows for one pair
/// fail to compile).
///
/// Each row reads `(From, Command(Kind)) => [To, …], "rule";` (or `Timer(…)`, `Cascade(…)`),
/// optionally preceded by attributes such as `#[cfg(test)]`.
#[macro_export]
#[doc(hidden)]
macro_rules! machine_spec {
    (
        $(#[$meta:meta])*
        $vis:vis struct $machine:ident {
            name: $name:literal,
            title: $title:literal,
            state: $state:ident,
            command: $command:ident,
            timer: $timer:ident,
            cascade: $cascade:ident,
            initial: [$($initial:ident),* $(,)?],
            final: [$($final:ident),* $(,)?],
        }
        $( $(#[$rmeta:meta])* ($from:ident, $tk:ident($t:ident)) => [$($to:ident),+ $(,)?], $rule:literal; )+
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        $vis struct $machine;

        impl $machine {
            const COMMAND_TABLE: [[u16; <$command as $crate::machine::spec::Kind>::ALL.len()];
                <$state as $crate::machine::spec::Kind>::ALL.len()] = {
                const S: usize = <$state as $crate::machine::spec::Kind>::ALL.len();
                const C: usize = <$command as $crate::machine::spec::Kind>::ALL.len();
                let rows = <$machine as $crate::machine::spec::Machine>::ROWS;
                let mut table = [[u16::MAX; C]; S];
                let mut i = 0;
                while i < rows.len() {
                    if let $crate::machine::spec::Trigger::Command(c) = rows[i].trigger {
                        let from = rows[i].from as usize;
                        assert!(table[from][c as usize] == u16::MAX, "two rows declare one command in one state");
                        table[from][c as usize] = i as u16;
                    }
                    i += 1;
                }
                table
            };
        }

        impl $crate::machine::spec::Machine for $machine {
            type State = $state;
            type Command = $command;
            type Timer = $timer;
            type Cascade = $cascade;
            const NAME: &'static str = $name;
            const TITLE: &'static str = $title;
            const INITIAL: &'static [$state] = &[$($state::$initial),*];
            const FINAL: &'static [$state] = &[$($state::$final),*];
            const ROWS: &'static [$crate::machine::spec::Row<$machine>] = &[
                $(
                    $(#[$rmeta])*
                    $crate::machine::spec::Row {
                        from: $state::$from,
                        trigger: $crate::machine_spec!(@trigger $command, $timer, $cascade; $tk $t),
                        to: &[$($state::$to),+],
                        rule: $rule,
                    },
                )+
            ];
            #[inline(always)]
            fn command_row(state: $state, command: $command) -> Option<usize> {
                let row = $machine::COMMAND_TABLE[state as usize][command as usize];
                (row != u16::MAX).then_some(row as usize)
            }
        }
    };
    (@trigger $c:ident, $tm:ident, $k:ident; Command $t:ident) => { $crate::machine::spec::Trigger::Command($c::$t) };
    (@trigger $c:ident, $tm:ident, $k:ident; Timer $t:ident) => { $crate::machine::spec::Trigger::Timer($tm::$t) };
    (@trigger $c:ident, $tm:ident, $k:ident; Cascade $t:ident) => { $crate::machine::spec::Trigger::Cascade($k::$t) };
}

/// A kind with no values, for a machine without timers or without cascade steps.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Never {}

impl Kind for Never {
    const ALL: &'static [Never] = &[];
    fn name(self) -> &'static str {
        match self {}
    }
}
