//! The login counters and latency histograms, the back-channel logout counter, and the
//! per-provider handle the pipeline holds.

use std::borrow::Cow;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::{Registry, Unit};

use super::ProviderLabel;

/// Buckets of the callback and exchange durations, in seconds: from a fast in-datacentre login
/// (tens of milliseconds) to the login budget (25 s).
const LOGIN_BUCKETS: [f64; 12] = [
    0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 25.0, 30.0,
];

/// A failed login: its provider and its error `type`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct FailedLabels {
    provider: Arc<str>,
    error_type: Cow<'static, str>,
}

/// A finished callback or exchange: its provider and whether a token was minted.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OutcomeLabels {
    provider: Arc<str>,
    outcome: &'static str,
}

/// A back-channel logout: its provider and how it ended.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct LogoutLabels {
    provider: Arc<str>,
    result: &'static str,
}

type Histograms = Family<OutcomeLabels, Histogram, fn() -> Histogram>;

fn login_histogram() -> Histogram {
    Histogram::new(LOGIN_BUCKETS)
}

/// The registered families.
#[derive(Debug)]
pub(super) struct Families {
    started: Family<ProviderLabel, Counter>,
    completed: Family<ProviderLabel, Counter>,
    failed: Family<FailedLabels, Counter>,
    callback: Histograms,
    exchange: Histograms,
    logouts: Family<LogoutLabels, Counter>,
}

impl Families {
    pub(super) fn register(registry: &mut Registry) -> Self {
        let families = Self {
            started: Family::default(),
            completed: Family::default(),
            failed: Family::default(),
            callback: Family::new_with_constructor(login_histogram),
            exchange: Family::new_with_constructor(login_histogram),
            logouts: Family::default(),
        };
        registry.register(
            "logins_started",
            "Logins begun at a configured provider: start requests and exchange requests",
            families.started.clone(),
        );
        registry.register(
            "logins_completed",
            "Logins that ended with a minted token delivered",
            families.completed.clone(),
        );
        registry.register(
            "logins_failed",
            "Logins that ended without a token, by provider and the error type the app was told",
            families.failed.clone(),
        );
        registry.register_with_unit(
            "callback_duration",
            "Time from callback request to redirect, by provider and outcome (success, failure)",
            Unit::Seconds,
            families.callback.clone(),
        );
        registry.register_with_unit(
            "exchange_duration",
            "Time from exchange request to answer, by provider and outcome (success, failure)",
            Unit::Seconds,
            families.exchange.clone(),
        );
        registry.register(
            "backchannel_logouts",
            "Back-channel logout requests by provider and result (sessions_ended, no_user, \
             invalid, replayed, unavailable, error)",
            families.logouts.clone(),
        );
        families
    }

    /// The handle of one provider. Its `started` and `completed` counters are created (at
    /// zero) here; a histogram when first observed, so a provider without a redirect flow
    /// shows no callback histogram.
    pub(super) fn for_provider(&self, provider: &str) -> LoginMetrics {
        let provider: Arc<str> = provider.into();
        let label = ProviderLabel {
            provider: provider.clone(),
        };
        LoginMetrics {
            started: self.started.get_or_create_owned(&label),
            completed: self.completed.get_or_create_owned(&label),
            failed: self.failed.clone(),
            callback: Outcomes::new(&self.callback),
            exchange: Outcomes::new(&self.exchange),
            logouts: self.logouts.clone(),
            provider,
        }
    }
}

/// The two latency histograms of one step of one provider, each resolved from its family at
/// its first observation and kept.
#[derive(Clone, Debug)]
struct Outcomes {
    family: Histograms,
    success: OnceLock<Histogram>,
    failure: OnceLock<Histogram>,
}

impl Outcomes {
    fn new(family: &Histograms) -> Self {
        Self {
            family: family.clone(),
            success: OnceLock::new(),
            failure: OnceLock::new(),
        }
    }

    /// One step ended after `seconds`, with a token (`minted`) or without.
    fn observe(&self, provider: &Arc<str>, minted: bool, seconds: f64) {
        let (slot, outcome) = if minted {
            (&self.success, "success")
        } else {
            (&self.failure, "failure")
        };
        slot.get_or_init(|| {
            self.family.get_or_create_owned(&OutcomeLabels {
                provider: provider.clone(),
                outcome,
            })
        })
        .observe(seconds);
    }
}

/// Which step of a login ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// The redirect flow's callback.
    Callback,
    /// The assertion flow's exchange (begun and ended in one request).
    Exchange,
}

/// The login metrics of one configured provider, resolved once (when the login pipeline is
/// built): counting a login is an atomic addition and a histogram observation, with no lookup
/// except for a failure's error type.
#[derive(Clone, Debug)]
pub struct LoginMetrics {
    provider: Arc<str>,
    started: Counter,
    completed: Counter,
    failed: Family<FailedLabels, Counter>,
    callback: Outcomes,
    exchange: Outcomes,
    logouts: Family<LogoutLabels, Counter>,
}

impl LoginMetrics {
    /// A back-channel logout ended with `result` (one of the closed list of
    /// `idp_bridge_backchannel_logouts_total`'s help).
    pub fn logout(&self, result: &'static str) {
        self.logouts
            .get_or_create(&LogoutLabels {
                provider: self.provider.clone(),
                result,
            })
            .inc();
    }

    /// A login begins: a `start` or an `exchange` request reached this provider.
    pub fn started(&self) {
        self.started.inc();
    }

    /// A login failed with `error_type` (the `type` its failure redirect, JSON error or, for
    /// a plain error page, the gateway's own name for the case). A `'static` type costs no
    /// allocation, which matters in a flood of forged callbacks.
    pub fn failed(&self, error_type: Cow<'static, str>) {
        self.failed
            .get_or_create(&FailedLabels {
                provider: self.provider.clone(),
                error_type,
            })
            .inc();
    }

    /// `step` ended after `elapsed`: with a minted token (`failure` is `None`), or failed with
    /// the error type `failure`.
    pub fn finished(&self, step: Step, elapsed: Duration, failure: Option<Cow<'static, str>>) {
        let histograms = match step {
            Step::Callback => &self.callback,
            Step::Exchange => &self.exchange,
        };
        let minted = failure.is_none();
        match failure {
            None => {
                self.completed.inc();
            }
            Some(error_type) => self.failed(error_type),
        }
        histograms.observe(&self.provider, minted, elapsed.as_secs_f64());
    }
}

#[cfg(test)]
mod tests {
    use super::super::Metrics;
    use super::*;

    #[test]
    fn a_providers_series_exist_from_the_start_and_count_each_outcome() {
        let metrics = Metrics::new();
        let corp = metrics.login("corp");
        let text = metrics.render().expect("render");
        assert!(
            text.contains("idp_bridge_logins_started_total{provider=\"corp\"} 0\n"),
            "{text}"
        );
        assert!(text.contains("idp_bridge_logins_completed_total{provider=\"corp\"} 0\n"));
        assert!(!text.contains("logins_failed_total{"), "no failure yet");
        assert!(
            !text.contains("duration_seconds"),
            "no histogram before a login ends"
        );

        corp.started();
        corp.started();
        corp.finished(Step::Callback, Duration::from_millis(30), None);
        corp.finished(
            Step::Exchange,
            Duration::from_millis(3),
            Some("access_denied".into()),
        );
        // A second handle (a reloaded pipeline) adds to the same series.
        metrics
            .login("corp")
            .failed("login_transaction_unknown".into());
        let text = metrics.render().expect("render");
        for line in [
            "idp_bridge_logins_started_total{provider=\"corp\"} 2\n",
            "idp_bridge_logins_completed_total{provider=\"corp\"} 1\n",
            "idp_bridge_logins_failed_total{provider=\"corp\",error_type=\"access_denied\"} 1\n",
            "idp_bridge_logins_failed_total{provider=\"corp\",error_type=\"login_transaction_unknown\"} 1\n",
            "idp_bridge_callback_duration_seconds_count{provider=\"corp\",outcome=\"success\"} 1\n",
            "idp_bridge_callback_duration_seconds_bucket{le=\"0.05\",provider=\"corp\",outcome=\"success\"} 1\n",
            "idp_bridge_callback_duration_seconds_bucket{le=\"0.025\",provider=\"corp\",outcome=\"success\"} 0\n",
            "idp_bridge_exchange_duration_seconds_count{provider=\"corp\",outcome=\"failure\"} 1\n",
        ] {
            assert!(text.contains(line), "{line} missing in\n{text}");
        }
        assert!(
            !text
                .contains("exchange_duration_seconds_count{provider=\"corp\",outcome=\"success\"}"),
            "{text}"
        );
    }

    #[test]
    fn logouts_are_counted_by_result() {
        let metrics = Metrics::new();
        let corp = metrics.login("corp");
        corp.logout("sessions_ended");
        corp.logout("invalid");
        corp.logout("invalid");
        let text = metrics.render().expect("render");
        for line in [
            "idp_bridge_backchannel_logouts_total{provider=\"corp\",result=\"sessions_ended\"} 1\n",
            "idp_bridge_backchannel_logouts_total{provider=\"corp\",result=\"invalid\"} 2\n",
        ] {
            assert!(text.contains(line), "{line} missing in\n{text}");
        }
    }
}
