//! Policy: from hits to a decision.
//!
//! The decision table of `policy.toml` maps each hit, by category, severity, the
//! speaker's role, the event kind and the room's tier, to a [`Decision`]; an event takes
//! the strictest decision of its hits. The ladder of `[[escalate]]` rungs is kept here
//! with the table (they are versioned together) and applied by [`crate::dispatch`].

use std::sync::Arc;

use crate::channel::Via;
use crate::context::{Context, ContextSet};
use crate::event::{Category, Decision, EventKind, Role, Severity, Tier};
use crate::lexicon::{DecideRule, EscalateRule, Lexicon};

/// One hit as reported in a verdict.
#[derive(Clone, Debug, PartialEq)]
pub struct Hit {
    /// The entry id.
    pub rule: Arc<str>,
    /// The entry's canonical term.
    pub term: Arc<str>,
    /// Category.
    pub category: Category,
    /// Severity.
    pub severity: Severity,
    /// Legal basis for actions.
    pub basis: Arc<str>,
    /// Byte range in the event's original text (the part of the term in this event).
    pub start: usize,
    /// End of the byte range (exclusive).
    pub end: usize,
    /// The earlier events that hold the rest of the term, oldest first, each with
    /// the part of the term it holds: the evidence of a term split across messages.
    pub window: Vec<WindowPart>,
    /// How the term matched.
    pub via: Via,
    /// How the term stands in its sentence (negated, questioned, …).
    pub context: ContextSet,
    /// For a coordinated-danmaku hit (`via: burst`): the burst it is part of.
    pub burst: Option<Box<crate::burst::BurstFinding>>,
    /// For a price check (`via: price`): what it found and what it compared.
    pub price: Option<Box<crate::price::PriceFinding>>,
}

/// The part of a split term that an earlier event holds.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct WindowPart {
    /// The earlier event's id.
    pub id: String,
    /// Its characters of the term, as normalized (the window keeps no original text).
    pub matched: String,
}

/// The decision table and escalation ladder of one lexicon version.
#[derive(Clone, Debug, Default)]
pub struct Policy {
    rules: Vec<DecideRule>,
    escalate: Vec<EscalateRule>,
}

/// What the policy needs to know about a hit and its event.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HitContext {
    /// The hit's category.
    pub category: Category,
    /// The hit's severity.
    pub severity: Severity,
    /// Who spoke.
    pub role: Role,
    /// Chat or transcript.
    pub kind: EventKind,
    /// The room's tier.
    pub tier: Tier,
    /// How the hit matched.
    pub via: Via,
    /// How it stands in its sentence.
    pub context: ContextSet,
    /// Whether the entry is a claim lawful when true (see `Entry::review`).
    pub review: bool,
}

impl HitContext {
    /// The context of `hit`, found in `ev` in a room of `tier`; `review` when its
    /// entry is a claim lawful when true.
    pub fn of(hit: &Hit, ev: &crate::event::Event<'_>, tier: Tier, review: bool) -> HitContext {
        HitContext {
            category: hit.category,
            severity: hit.severity,
            role: ev.role,
            kind: ev.kind,
            tier,
            via: hit.via,
            context: hit.context,
            review,
        }
    }
}

impl Policy {
    /// The table of `lexicon`.
    pub fn from_lexicon(lexicon: &Lexicon) -> Policy {
        Policy {
            rules: lexicon.decide.clone(),
            escalate: lexicon.escalate.clone(),
        }
    }

    /// The escalation ladder, in order.
    pub fn ladder(&self) -> &[EscalateRule] {
        &self.escalate
    }

    /// The longest escalation window, in milliseconds (how long strikes matter).
    pub fn longest_window_ms(&self) -> u64 {
        self.escalate
            .iter()
            .map(|r| r.window_s.saturating_mul(1000))
            .max()
            .unwrap_or(0)
    }

    /// The decision for one hit: the first matching row's, or `allow`.
    pub fn decide(&self, hit: HitContext) -> Decision {
        self.rules
            .iter()
            .find(|r| {
                matches(&r.category, hit.category)
                    && matches(&r.severity, hit.severity)
                    && matches(&r.role, hit.role)
                    && matches(&r.kind, hit.kind)
                    && matches(&r.tier, hit.tier)
                    && matches(&r.via, hit.via)
                    && r.review.is_none_or(|review| review == hit.review)
                    && r.context
                        .as_ref()
                        .is_none_or(|cs| cs.iter().any(|c: &Context| hit.context.contains(*c)))
            })
            .map_or(Decision::Allow, |r| r.decision)
    }
}

fn matches<T: PartialEq>(field: &Option<Vec<T>>, value: T) -> bool {
    field.as_ref().is_none_or(|values| values.contains(&value))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ctx(category: Category, severity: Severity, role: Role, tier: Tier) -> HitContext {
        HitContext {
            category,
            severity,
            role,
            kind: if role == Role::Host {
                EventKind::Transcript
            } else {
                EventKind::Chat
            },
            tier,
            via: Via::Exact,
            context: ContextSet::default(),
            review: false,
        }
    }

    #[test]
    fn default_table() {
        let p = Policy::from_lexicon(&Lexicon::embedded());
        use Category::*;
        use Severity::*;
        let d = |c, s, r, t| p.decide(ctx(c, s, r, t));
        assert_eq!(
            d(FalsePublicity, Low, Role::Host, Tier::Standard),
            Decision::Allow
        );
        assert_eq!(
            d(FalsePublicity, Low, Role::Host, Tier::Enhanced),
            Decision::Allow
        );
        assert_eq!(
            d(Diversion, Medium, Role::Viewer, Tier::Standard),
            Decision::Hold
        );
        assert_eq!(
            d(Diversion, High, Role::Viewer, Tier::Standard),
            Decision::Block
        );
        assert_eq!(
            d(Slander, High, Role::Viewer, Tier::Standard),
            Decision::Hold
        );
        assert_eq!(
            d(FalsePublicity, Medium, Role::Host, Tier::Standard),
            Decision::Mask
        );
        assert_eq!(
            d(FalsePublicity, Medium, Role::Host, Tier::Enhanced),
            Decision::Block
        );
        assert_eq!(
            d(ProhibitedProduct, Critical, Role::Operator, Tier::Standard),
            Decision::Block
        );
    }

    #[test]
    fn claims_lawful_when_true_are_held_for_review_not_allowed_as_low() {
        let p = Policy::from_lexicon(&Lexicon::embedded());
        for role in Role::ALL {
            let review = HitContext {
                review: true,
                ..ctx(
                    Category::FalsePublicity,
                    Severity::Low,
                    role,
                    Tier::Standard,
                )
            };
            assert_eq!(p.decide(review), Decision::Hold, "{role:?}");
            // Said as a warning or quoted, it is still not a claim.
            let mut context = ContextSet::default();
            context.insert(Context::Negated);
            let negated = HitContext { context, ..review };
            assert_eq!(p.decide(negated), Decision::Allow, "{role:?}");
        }
    }
}
