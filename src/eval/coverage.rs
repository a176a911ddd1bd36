//! What a run exercised, for `warden test --coverage`: the engine records into [`Hits`] while
//! it decides and executes, when recording is on ([`Engine::record_coverage`]). Items are
//! keyed by what they are in the checked program (a rule's index, a term's span), so hits of
//! many runs over one program add up.

use std::cell::RefCell;
use std::collections::HashSet;

use super::Engine;
use crate::source::Span;

/// A span as a key: file, start and end.
pub type SpanKey = (u32, u32, u32);

/// The key of a span.
pub fn key(span: Span) -> SpanKey {
    (span.file.0, span.start, span.end)
}

/// Everything exercised so far.
#[derive(Clone, Debug, Default)]
pub struct Hits {
    /// Access rules (by index) whose constraint held, or that have none, for an object a
    /// decision or a retrieve looked at.
    pub rules: HashSet<usize>,
    /// Terms of an `and` or `or` (by span) with the value they were evaluated to.
    pub terms: HashSet<(SpanKey, bool)>,
    /// Member grants (rule index, member index, write) that allowed a read or a write.
    pub grants: HashSet<(usize, usize, bool)>,
    /// Statements (by span) that ran.
    pub statements: HashSet<SpanKey>,
    /// `if` statements (by span) with the way they went.
    pub branches: HashSet<(SpanKey, bool)>,
    /// Resource permissions (resource index, user role index) a runtime decision consulted.
    pub permissions: HashSet<(usize, u32)>,
    /// Component conditions (resource index, component index) a decision evaluated.
    pub components: HashSet<(usize, usize)>,
    /// Entities (by index) whose access rules a decision consulted: a change to their rules
    /// can change only runs that consulted them.
    pub entities: HashSet<u32>,
    /// Microflows (by index) whose `allow` list a call consulted.
    pub microflows: HashSet<u32>,
    /// Resources (by index) a request was about.
    pub resources: HashSet<usize>,
    /// The run printed the matrix, which reads every rule.
    pub every_rule: bool,
}

impl Hits {
    /// Adds another run's hits.
    pub fn merge(&mut self, other: Hits) {
        self.rules.extend(other.rules);
        self.terms.extend(other.terms);
        self.grants.extend(other.grants);
        self.statements.extend(other.statements);
        self.branches.extend(other.branches);
        self.permissions.extend(other.permissions);
        self.components.extend(other.components);
        self.entities.extend(other.entities);
        self.microflows.extend(other.microflows);
        self.resources.extend(other.resources);
        self.every_rule |= other.every_rule;
    }
}

/// The engine's recorder: `None` when coverage is off, so that a normal run pays one branch.
pub(crate) type Recorder = Option<Box<RefCell<Hits>>>;

impl Engine<'_> {
    /// Starts recording what the run exercises. Retrieves then check every object against
    /// every rule (the naive plan), so that what an index would skip still counts.
    pub fn record_coverage(&mut self) {
        self.coverage = Some(Box::default());
        self.plan = super::Plan::Naive;
    }

    /// What the run exercised since [`Engine::record_coverage`].
    pub fn coverage_hits(&self) -> Option<Hits> {
        self.coverage.as_ref().map(|c| c.borrow().clone())
    }

    /// Records into the hits, when recording.
    pub(crate) fn cover(&self, f: impl FnOnce(&mut Hits)) {
        if let Some(c) = &self.coverage {
            f(&mut c.borrow_mut());
        }
    }
}
