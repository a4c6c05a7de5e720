//! The deployment examples in `deploy/` stay in step with the gateway: `deploy/config.toml`
//! passes `check-config` once its secret files exist, the Kubernetes ConfigMap carries the same
//! configuration (but for `trusted_proxies`, which differs by platform, and
//! `config_watch_seconds`, which only the ConfigMap sets), and every secret file
//! the configuration names is one that compose mounts and the Kubernetes Secret is made from.
//! No container engine or cluster runs here; `.ci/run` checks the files against their schemas.

use std::path::Path;

const SECRETS: &str = "/run/secrets/idp-bridge/";

/// A file of the repository, by its path from the root.
pub fn read(path: &str) -> String {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(root.join(path)).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// The secret files a configuration names (as quoted paths), by file name.
fn secret_files(config: &str) -> Vec<String> {
    let quoted = format!("\"{SECRETS}");
    let mut names: Vec<String> = config
        .match_indices(&quoted)
        .map(|(at, _)| {
            config[at + quoted.len()..]
                .split('"')
                .next()
                .expect("a quoted path")
                .to_string()
        })
        .collect();
    names.sort();
    names
}

/// The TOML in the ConfigMap's `config.toml: |` block.
fn configmap_config(manifest: &str) -> String {
    manifest
        .lines()
        .skip_while(|line| line.trim() != "config.toml: |")
        .skip(1)
        .take_while(|line| line.is_empty() || line.starts_with("    "))
        .map(|line| line.strip_prefix("    ").unwrap_or(line))
        .collect::<Vec<_>>()
        .join("\n")
}

/// The document of `kind` (`Service`, `Deployment`, ...) in the Kubernetes manifest.
fn kubernetes_document(kind: &str) -> String {
    read("deploy/kubernetes/idp-bridge.yaml")
        .split("\n---\n")
        .find(|doc| doc.contains(&format!("kind: {kind}\n")))
        .unwrap_or_else(|| panic!("the manifest has no {kind}"))
        .to_string()
}

#[test]
fn the_deployment_config_passes_check_config_with_its_secret_files() {
    let config = read("deploy/config.toml");
    let dir = tempfile::tempdir().expect("tempdir");
    let id_key = idp_bridge::login::mapping::IdKey::generate().expect("id key");
    let files = [
        (
            "appwrite_api_key",
            "deploy-test-appwrite-api-key-0123456789".to_string(),
        ),
        (
            "corp_client_secret",
            "deploy-test-client-secret-0123456789".to_string(),
        ),
        ("id_key", id_key),
        (
            "encryption_keys",
            idp_bridge::store::seal::generate("k1").expect("key"),
        ),
        (
            "redis_url",
            "redis://:deploy-test-password@redis:6379".to_string(),
        ),
    ];
    let mut names: Vec<String> = files.iter().map(|(name, _)| (*name).to_string()).collect();
    names.sort();
    assert_eq!(
        secret_files(&config),
        names,
        "the secret files the config names"
    );

    // The container's paths, moved to the test's directory by the same environment overrides
    // an operator may use.
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_idp-bridge"));
    command
        .args(["check-config", "--config"])
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("deploy/config.toml"));
    let vars = [
        ("appwrite_api_key", "IDP_BRIDGE_APPWRITE__API_KEY_FILE"),
        (
            "corp_client_secret",
            "IDP_BRIDGE_PROVIDERS__CORP__CLIENT_SECRET_FILE",
        ),
        ("id_key", "IDP_BRIDGE_MAPPING__ID_KEY_FILE"),
        ("encryption_keys", "IDP_BRIDGE_STORE__ENCRYPTION_KEYS_FILE"),
        ("redis_url", "IDP_BRIDGE_STORE__REDIS_URL_FILE"),
    ];
    for (name, value) in &files {
        let path = dir.path().join(name);
        std::fs::write(&path, value).expect("write secret");
        let var = vars.iter().find(|(n, _)| n == name).expect("a variable").1;
        command.env(var, &path);
    }
    // As compose.yaml sets it: its Redis is on a network internal to the host.
    assert!(read("deploy/compose.yaml").contains("IDP_BRIDGE_STORE__ALLOW_PLAIN_REDIS: \"true\""));
    command.env("IDP_BRIDGE_STORE__ALLOW_PLAIN_REDIS", "true");
    let output = command.output().expect("run check-config");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    // Valid, with the example domains flagged: `serve` refuses them until they are edited, and
    // check-config's exit status says so.
    assert_eq!(output.status.code(), Some(2), "{stdout}\n{stderr}");
    assert!(
        stdout.contains("valid, with") && stdout.contains("warning"),
        "{stdout}"
    );
    assert!(!stdout.contains("store.redis_url"), "{stdout}");
    assert!(stdout.contains("provider corp (type oidc)"), "{stdout}");
    for (name, value) in &files {
        assert!(
            !stdout.contains(value.as_str()) && !stderr.contains(value.as_str()),
            "check-config printed the {name}"
        );
    }
}

#[test]
fn the_kubernetes_configmap_carries_the_same_configuration() {
    let file: toml::Table = read("deploy/config.toml").parse().expect("TOML");
    let mut configmap: toml::Table = configmap_config(&read("deploy/kubernetes/idp-bridge.yaml"))
        .parse()
        .expect("the ConfigMap's config.toml is TOML");
    let mut file = file;
    for table in [&mut file, &mut configmap] {
        let server = table
            .get_mut("server")
            .and_then(|s| s.as_table_mut())
            .expect("[server]");
        assert!(server.remove("trusted_proxies").is_some());
    }
    // Only the ConfigMap is watched: the kubelet replaces its file whole, while compose's
    // bind mount of one file keeps the old file when an editor saves a new one over it.
    let server = configmap
        .get_mut("server")
        .and_then(|s| s.as_table_mut())
        .expect("[server]");
    assert!(server.remove("config_watch_seconds").is_some());
    assert_eq!(configmap, file);
}

#[test]
fn every_secret_file_is_mounted_by_compose_and_made_for_kubernetes() {
    let names = secret_files(&read("deploy/config.toml"));
    let compose = read("deploy/compose.yaml");
    let kubernetes = read("deploy/kubernetes/idp-bridge.yaml");
    for name in &names {
        assert!(
            compose.contains(&format!("target: {SECRETS}{name}")),
            "compose.yaml does not mount {name}"
        );
        assert!(
            compose.contains(&format!("file: ./secrets/{name}")),
            "compose.yaml does not read ./secrets/{name}"
        );
        assert!(
            kubernetes.contains(&format!("--from-file={name}")),
            "the Kubernetes instructions do not make {name}"
        );
    }
    assert_eq!(
        secret_files(&configmap_config(&kubernetes)),
        names,
        "the ConfigMap names the same secret files"
    );
}

/// `/metrics` needs no credentials (docs/operators/metrics.md): the examples serve it on a port of its
/// own that neither the proxy (Caddy) nor the Kubernetes Service forwards, so the public
/// listener answers 404 there.
#[test]
fn the_public_proxy_never_reaches_metrics() {
    let port = |address: &str| address.rsplit(':').next().expect("a port").to_string();
    for (name, text) in [
        ("deploy/config.toml", read("deploy/config.toml")),
        (
            "the ConfigMap",
            configmap_config(&read("deploy/kubernetes/idp-bridge.yaml")),
        ),
    ] {
        let config: toml::Table = text.parse().expect("TOML");
        let server = config["server"].as_table().expect("[server]");
        let listen = port(server["listen"].as_str().expect("listen"));
        let metrics = server
            .get("metrics_listen")
            .and_then(|v| v.as_str())
            .map(port)
            .unwrap_or_else(|| panic!("{name}: /metrics is served on the public listener"));
        assert_ne!(metrics, listen, "{name}");
        let caddy = read("deploy/Caddyfile");
        assert!(
            !caddy.contains(&format!(":{metrics}")),
            "Caddy forwards {metrics}"
        );
        assert!(caddy.contains(&format!("gateway-a:{listen} gateway-b:{listen}")));
    }
    let service = kubernetes_document("Service");
    assert!(service.contains("targetPort: http"), "{service}");
    assert!(
        !service.contains("metrics") && !service.contains("9090"),
        "{service}"
    );
}

/// On Kubernetes `trusted_proxies` is the whole pod range (an ingress controller's pods have no
/// range of their own), so any pod that reached the gateway directly could claim any client
/// address in `X-Forwarded-For`, a fresh rate-limit budget with each. The manifest's
/// NetworkPolicy admits only the ingress controller's namespace to the gateway's port and only
/// monitoring to the metrics port.
#[test]
fn on_kubernetes_only_the_ingress_reaches_the_gateway_port() {
    let policy = kubernetes_document("NetworkPolicy");
    assert!(policy.contains("policyTypes: [Ingress]"), "{policy}");
    assert!(
        policy.contains("podSelector:\n    matchLabels:\n      app.kubernetes.io/name: idp-bridge"),
        "{policy}"
    );
    let rules: Vec<&str> = policy.split("\n    - from:\n").skip(1).collect();
    assert_eq!(rules.len(), 2, "{policy}");
    for (rule, namespace, port) in [
        (rules[0], "ingress-nginx", "http"),
        (rules[1], "monitoring", "metrics"),
    ] {
        assert!(
            rule.contains(&format!("kubernetes.io/metadata.name: {namespace}")),
            "{rule}"
        );
        assert!(rule.contains(&format!("- port: {port}")), "{rule}");
        assert!(!rule.contains("ipBlock"), "{rule}");
    }
}

/// The gateway runs as uid/gid 10001, and a Secret's files belong to root: without `fsGroup`
/// and a group-readable mode, the gateway could not read its secrets and would never start.
#[test]
fn on_kubernetes_the_gateway_can_read_its_secret_files() {
    let deployment = kubernetes_document("Deployment");
    assert!(deployment.contains("runAsGroup: 10001"), "{deployment}");
    assert!(deployment.contains("fsGroup: 10001"), "{deployment}");
    assert!(deployment.contains("defaultMode: 0440"), "{deployment}");
}

/// The Deployment's containers, as (name, text) in manifest order.
fn containers(deployment: &str) -> Vec<(String, String)> {
    let list = deployment
        .split("      containers:\n")
        .nth(1)
        .expect("containers")
        .split("      volumes:\n")
        .next()
        .expect("before volumes");
    let mut found: Vec<(String, String)> = Vec::new();
    for line in list.lines() {
        // A container starts at the list's own indentation; deeper `- name:` are env, ports...
        if let Some(name) = line.strip_prefix("        - name: ") {
            found.push((name.trim().to_string(), String::new()));
        } else if let Some((_, text)) = found.last_mut() {
            text.push_str(line);
            text.push('\n');
        }
    }
    found
}

/// A ConfigMap change reaches the running gateways without a restart and without a second
/// container: the gateway watches its own file (`[server] config_watch_seconds` in the
/// ConfigMap's configuration) and reloads it, or refuses it and keeps the old configuration.
/// No pod shares its process namespace: a container that could signal the gateway could also
/// read its memory and, through `/proc/<pid>/root`, its secret files. The file the gateway
/// reads is in the ConfigMap's mount, which is not a `subPath` (the kubelet never updates one).
#[test]
fn on_kubernetes_the_gateway_watches_its_configmap_without_a_sidecar() {
    let manifest = read("deploy/kubernetes/idp-bridge.yaml");
    let settings: Vec<&str> = manifest
        .lines()
        .filter(|line| !line.trim_start().starts_with('#'))
        .collect();
    for key in [
        "shareProcessNamespace",
        "initContainers",
        "ephemeralContainers",
    ] {
        assert!(
            !settings.iter().any(|line| line.contains(key)),
            "the manifest sets {key}"
        );
    }
    let deployment = kubernetes_document("Deployment");
    assert!(!deployment.contains("subPath:"), "{deployment}");
    let containers = containers(&deployment);
    let names: Vec<&str> = containers.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names, ["idp-bridge"], "one container: the gateway");
    let gateway = &containers[0].1;
    let config = gateway
        .split("- name: IDP_BRIDGE_CONFIG\n")
        .nth(1)
        .and_then(|rest| rest.lines().next())
        .and_then(|line| line.trim().strip_prefix("value: "))
        .expect("the gateway's IDP_BRIDGE_CONFIG");
    let mount_dir = Path::new(config).parent().expect("a directory");
    assert!(
        gateway.contains(&format!(
            "- name: config\n              mountPath: {}\n",
            mount_dir.display()
        )),
        "{gateway}"
    );
    assert!(
        deployment.contains("- name: config\n          configMap:\n            name: idp-bridge\n"),
        "{deployment}"
    );
    let file: toml::Table = configmap_config(&manifest).parse().expect("TOML");
    let every = file["server"]
        .get("config_watch_seconds")
        .and_then(toml::Value::as_integer)
        .expect("the ConfigMap's configuration sets server.config_watch_seconds");
    assert!((1..=60).contains(&every), "config_watch_seconds = {every}");
}

/// The gateway closes a keep-alive connection left idle for `[server]
/// header_read_timeout_seconds`. A proxy that kept one longer could send a request on it just
/// as the gateway closes it, and answer its client 502: Caddy lets its idle connections to the
/// gateways go sooner.
#[test]
fn caddy_lets_idle_gateway_connections_go_before_the_gateway_closes_them() {
    let caddy = read("deploy/Caddyfile");
    let transport = caddy
        .split("transport http {")
        .nth(1)
        .and_then(|rest| rest.split('}').next())
        .expect("reverse_proxy has a `transport http` block");
    let keepalive: u64 = transport
        .lines()
        .find_map(|line| line.trim().strip_prefix("keepalive "))
        .and_then(|value| value.strip_suffix('s'))
        .and_then(|seconds| seconds.parse().ok())
        .expect("`keepalive <N>s` in Caddy's transport");
    let config: toml::Table = read("deploy/config.toml").parse().expect("TOML");
    let idle = config["server"]
        .get("header_read_timeout_seconds")
        .and_then(toml::Value::as_integer)
        .unwrap_or(idp_bridge::config::DEFAULT_HEADER_READ_TIMEOUT_SECONDS);
    assert!(
        keepalive > 0 && i64::try_from(keepalive).is_ok_and(|k| k < idle),
        "Caddy keeps idle connections {keepalive}s, the gateway {idle}s"
    );
}

/// Every container runs unprivileged on a read-only root filesystem (the gateway writes no
/// file), in both examples; the image's own user is not root.
#[test]
fn the_examples_run_unprivileged_on_a_read_only_root() {
    let deployment = kubernetes_document("Deployment");
    assert!(deployment.contains("runAsNonRoot: true"), "{deployment}");
    for (name, container) in containers(&deployment) {
        for line in [
            "readOnlyRootFilesystem: true",
            "allowPrivilegeEscalation: false",
            "drop: [\"ALL\"]",
            "requests:",
        ] {
            assert!(container.contains(line), "{name} lacks {line}");
        }
    }
    let compose = read("deploy/compose.yaml");
    assert!(compose.contains("  read_only: true\n"), "{compose}");
    assert!(compose.contains("  cap_drop: [ALL]\n"), "{compose}");
    let dockerfile = read("Dockerfile");
    assert!(dockerfile.contains("\nUSER 10001:10001\n"), "{dockerfile}");
}

/// The probes: readiness on `/readyz` (which stays 200 while one provider or Appwrite is down,
/// so an outage of either never empties the Service), with a timeout above the readiness check
/// budget (also Caddy's), liveness on `/healthz`; and a PodDisruptionBudget over the same pods.
#[test]
fn on_kubernetes_the_probes_and_the_disruption_budget_fit() {
    let deployment = kubernetes_document("Deployment");
    let gateway = &containers(&deployment)[0].1;
    for (probe, path) in [("readinessProbe", "/readyz"), ("livenessProbe", "/healthz")] {
        let section = gateway
            .split(&format!("{probe}:\n"))
            .nth(1)
            .unwrap_or_else(|| panic!("no {probe}"));
        assert!(
            section.starts_with(&format!(
                "            httpGet:\n              path: {path}\n"
            )),
            "{probe}: {section}"
        );
    }
    // /readyz answers within its check budget whatever hangs; a probe that gave up sooner
    // would fail on every replica at once.
    let budget_seconds = idp_bridge::http::readiness::CHECK_BUDGET.as_secs();
    let probe_timeout: u64 = gateway
        .split("readinessProbe:\n")
        .nth(1)
        .and_then(|probe| probe.split("timeoutSeconds: ").nth(1))
        .and_then(|rest| rest.lines().next())
        .and_then(|seconds| seconds.trim().parse().ok())
        .expect("the readiness probe's timeoutSeconds");
    assert!(
        probe_timeout > budget_seconds,
        "timeoutSeconds: {probe_timeout}"
    );
    let caddy_timeout: u64 = read("deploy/Caddyfile")
        .split("health_timeout ")
        .nth(1)
        .and_then(|rest| rest.split('s').next())
        .and_then(|seconds| seconds.parse().ok())
        .expect("Caddy's health_timeout");
    assert!(
        caddy_timeout > budget_seconds,
        "health_timeout {caddy_timeout}s"
    );
    let budget = kubernetes_document("PodDisruptionBudget");
    assert!(budget.contains("minAvailable: 1"), "{budget}");
    assert!(
        budget.contains("selector:\n    matchLabels:\n      app.kubernetes.io/name: idp-bridge"),
        "{budget}"
    );
    assert!(deployment.contains("replicas: 2"), "{deployment}");
}

/// The image the Deployment runs is tagged with the crate's version: the tag the Dockerfile's
/// `VERSION` gives the image, and what its `--version` says.
#[test]
fn the_kubernetes_image_tag_is_the_crate_version() {
    let deployment = kubernetes_document("Deployment");
    let gateway = &containers(&deployment)[0].1;
    let image = gateway
        .lines()
        .find_map(|line| line.trim().strip_prefix("image: "))
        .expect("an image");
    assert_eq!(image, format!("idp-bridge:{}", env!("CARGO_PKG_VERSION")));
}
