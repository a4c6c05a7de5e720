//! `idp_bridge_audit_file_failures_total{cause}`: the audit events lost from `[audit] file`,
//! read at each scrape from the file writer's own counters (`cause="write"`: a write failed;
//! `cause="queue_full"`: the writer was too far behind). Absent without an audit file.

use std::fmt;
use std::sync::Arc;

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeLabelSet, EncodeMetric};
use prometheus_client::metrics::counter::ConstCounter;

use super::Slot;

/// The lines an audit file lost so far, by cause.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct AuditFileLosses {
    /// Writes that failed.
    pub write: u64,
    /// Lines dropped because the writer was too far behind.
    pub queue_full: u64,
}

/// Reads the losses at scrape time.
pub(super) type LossCount = Arc<dyn Fn() -> AuditFileLosses + Send + Sync>;

/// The `cause` of a loss.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct CauseLabel {
    cause: &'static str,
}

/// The collector: absent until an audit file reports.
#[derive(Default)]
pub(super) struct AuditFileFailures {
    pub(super) source: Slot<LossCount>,
}

impl fmt::Debug for AuditFileFailures {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("AuditFileFailures")
    }
}

impl Collector for AuditFileFailures {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), fmt::Error> {
        let Some(count) = self.source.get() else {
            return Ok(());
        };
        let losses = count();
        let mut family = encoder.encode_descriptor(
            "audit_file_failures",
            "Audit events lost from [audit] file (they are still in the log), by cause: write (a write failed), queue_full (the writer was too far behind)",
            None,
            ConstCounter::new(0_u64).metric_type(),
        )?;
        for (cause, lost) in [("write", losses.write), ("queue_full", losses.queue_full)] {
            ConstCounter::new(lost).encode(family.encode_family(&CauseLabel { cause })?)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::super::Metrics;
    use super::*;

    #[test]
    fn the_losses_are_read_at_scrape_time_and_absent_without_a_file() {
        let metrics = Metrics::new();
        let text = metrics.render().expect("render");
        assert!(!text.contains("audit_file_failures"), "{text}");
        let lost = Arc::new(std::sync::atomic::AtomicU64::new(2));
        let source = lost.clone();
        metrics.count_audit_file(move || AuditFileLosses {
            write: source.load(std::sync::atomic::Ordering::Relaxed),
            queue_full: 0,
        });
        lost.store(3, std::sync::atomic::Ordering::Relaxed);
        let text = metrics.render().expect("render");
        assert!(
            text.contains("# TYPE idp_bridge_audit_file_failures counter"),
            "{text}"
        );
        for line in [
            "idp_bridge_audit_file_failures_total{cause=\"write\"} 3\n",
            "idp_bridge_audit_file_failures_total{cause=\"queue_full\"} 0\n",
        ] {
            assert!(text.contains(line), "{line} missing in\n{text}");
        }
    }
}
