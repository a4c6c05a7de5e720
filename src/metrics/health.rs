//! The health gauges: what the last readiness round found, per dependency.
//!
//! `idp_bridge_provider_up{provider}`, `idp_bridge_appwrite_up` and `idp_bridge_store_up` are
//! 1 when the dependency passed its check, 0 when it failed. They are rendered from the last
//! [`Health`] recorded, as a whole: a round replaces every series at once, so a provider that a
//! reload removed disappears with the next round, and a scrape never mixes two rounds. Before
//! the first round they are absent.

use std::fmt;
use std::sync::Arc;

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric};
use prometheus_client::metrics::gauge::ConstGauge;

use super::{ProviderLabel, Slot};

/// What one readiness round found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Health {
    /// Appwrite answered an authorised read.
    pub appwrite: bool,
    /// The transaction store answered.
    pub store: bool,
    /// Each configured provider (by id) and whether its metadata and keys are loaded.
    pub providers: Vec<(Arc<str>, bool)>,
}

/// The collector of the health gauges: the last [`Health`], read at each scrape.
#[derive(Default)]
pub(super) struct HealthGauges {
    last: Slot<Health>,
}

impl fmt::Debug for HealthGauges {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("HealthGauges")
    }
}

impl HealthGauges {
    /// Replaces what the gauges say.
    pub(super) fn record(&self, health: Health) {
        self.last.set(health);
    }
}

/// 1 or 0.
fn up(ok: bool) -> ConstGauge {
    ConstGauge::new(i64::from(ok))
}

impl Collector for HealthGauges {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), fmt::Error> {
        let Some(health) = self.last.get() else {
            return Ok(());
        };
        for (name, help, ok) in [
            (
                "appwrite_up",
                "Whether Appwrite answered the last readiness check with the configured key (1) or not (0)",
                health.appwrite,
            ),
            (
                "store_up",
                "Whether the transaction store answered the last readiness check (1) or not (0)",
                health.store,
            ),
        ] {
            let gauge = up(ok);
            gauge.encode(encoder.encode_descriptor(name, help, None, gauge.metric_type())?)?;
        }
        if health.providers.is_empty() {
            return Ok(());
        }
        let mut family = encoder.encode_descriptor(
            "provider_up",
            "Whether each provider's metadata and keys were loaded at the last readiness check (1) or not (0)",
            None,
            up(true).metric_type(),
        )?;
        for (provider, ok) in health.providers {
            let label = ProviderLabel { provider };
            up(ok).encode(family.encode_family(&label)?)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::super::Metrics;
    use super::*;

    #[test]
    fn the_gauges_appear_with_the_first_round_and_each_round_replaces_them() {
        let metrics = Metrics::new();
        let text = metrics.render().expect("render");
        assert!(!text.contains("_up"), "no round yet: {text}");

        metrics.record_health(Health {
            appwrite: true,
            store: true,
            providers: vec![("corp".into(), true), ("old".into(), false)],
        });
        let text = metrics.render().expect("render");
        for line in [
            "# TYPE idp_bridge_provider_up gauge\n",
            "idp_bridge_provider_up{provider=\"corp\"} 1\n",
            "idp_bridge_provider_up{provider=\"old\"} 0\n",
            "idp_bridge_appwrite_up 1\n",
            "idp_bridge_store_up 1\n",
        ] {
            assert!(text.contains(line), "{line} missing in\n{text}");
        }

        // A reload removed `old`; Appwrite is down.
        metrics.record_health(Health {
            appwrite: false,
            store: true,
            providers: vec![("corp".into(), true)],
        });
        let text = metrics.render().expect("render");
        assert!(text.contains("idp_bridge_appwrite_up 0\n"), "{text}");
        assert!(!text.contains("\"old\""), "{text}");
        assert_eq!(text.matches("# TYPE idp_bridge_provider_up").count(), 1);
    }
}
