//! What operators watch: the health gauges beside `/readyz`.

use appwrite_emulator::{Fault, FaultScope};
use reqwest::StatusCode;

use crate::helpers::{Options, TestApp};
use crate::metrics::scrape;
use crate::ops::DOWN_PROVIDER;

/// The gauges say what `/readyz` says, per dependency: a provider that is down is 0 under its
/// own id, the others stay 1.
#[tokio::test]
async fn the_health_gauges_say_what_readyz_says() {
    let app = TestApp::spawn_with(Options {
        extra_toml: DOWN_PROVIDER.into(),
        ..Options::mock()
    })
    .await;
    app.emulator.inject(Fault::Status(503), FaultScope::Always);
    let ready = app.get(&format!("{}/readyz", app.gateway)).await;
    assert_eq!(ready.status(), StatusCode::OK);
    let scrape = scrape(&app).await;
    for (series, value) in [
        (r#"idp_bridge_provider_up{provider="corp"}"#, 1.0),
        (r#"idp_bridge_provider_up{provider="down"}"#, 0.0),
        ("idp_bridge_appwrite_up", 0.0),
        ("idp_bridge_store_up", 1.0),
    ] {
        assert_eq!(scrape.value(series), value, "{series} in\n{}", scrape.text);
    }
}
