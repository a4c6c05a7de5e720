//! Where a decision is recorded. Each flow decides its outcome in one place (`start` when it
//! refuses, `callback`, `exchange`) and hands it here once: it is counted in the metrics and
//! written as the audit event from the same values, so the two always agree and every decided
//! request has exactly one event. A request at an id that names no provider is no login at a
//! provider: neither counted nor audited (the request log has it).

use std::borrow::Cow;
use std::time::Duration;

use idp_provider_api::Identity;

use super::mapping::{Resolution, Resolved};
use super::{Login, Registered};
use crate::audit::{Decision, EventKind, Failure, Known, Origin};
use crate::metrics::Step;

/// One decided request, as the flow that decided it knows it.
pub(super) struct Decided<'a> {
    /// What was decided.
    pub(super) event: EventKind,
    /// The provider id of the request.
    pub(super) provider: &'a str,
    /// Who asked.
    pub(super) origin: &'a Origin,
    /// Whom it was about, as far as the flow got.
    pub(super) known: Known,
    /// `None` for a success; the error type the metrics count a failure under.
    pub(super) error_type: Option<Cow<'static, str>>,
    /// The configured rule that refused (`access_denied`).
    pub(super) rule: Option<&'a str>,
}

impl Login {
    /// Records `decided`: counted at `registered` (a configured provider; a login whose
    /// provider a reload removed has none), with its duration for `step`, then its audit event.
    pub(super) fn record(
        &self,
        registered: Option<&Registered>,
        step: Option<(Step, Duration)>,
        decided: Decided<'_>,
    ) {
        if let Some(registered) = registered {
            match (step, &decided.error_type) {
                (Some((step, elapsed)), failure) => {
                    registered.metrics.finished(step, elapsed, failure.clone());
                }
                (None, Some(error_type)) => registered.metrics.failed(error_type.clone()),
                (None, None) => {}
            }
        }
        self.audit.record(&Decision {
            event: decided.event,
            provider: decided.provider,
            origin: decided.origin,
            known: &decided.known,
            failure: decided.error_type.as_deref().map(|error_type| Failure {
                error_type,
                rule: decided.rule,
            }),
        });
    }
}

/// The provider verified `identity`: its issuer and subject (both, or neither when one is
/// blank), and the email it asserted.
pub(super) fn identified(known: &mut Known, identity: &Identity) {
    let (issuer, subject) = (identity.issuer(), identity.subject());
    if !issuer.trim().is_empty() && !subject.trim().is_empty() {
        known.issuer = Some(issuer.to_string());
        known.subject = Some(subject.to_string());
    }
    known.email = identity.email().map(str::to_string);
}

/// The identity maps to `resolved`: its user, and whether this login created or linked it.
pub(super) fn resolved_user(known: &mut Known, resolved: &Resolved) {
    known.user_id = Some(resolved.user.id.clone());
    known.created_user = resolved.how == Resolution::Created;
    known.linked_user = resolved.how == Resolution::Linked;
}
