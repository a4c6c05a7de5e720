//! A fleet as it is deployed: `n` instances of one gateway binary, each with the Redis store on
//! one shared `redis-server`, all configured with one `public_url` and reached through a
//! [`Balancer`] in the driver; and what its processes spent over a stretch of load.

use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::browser::{self, Balancer, start_url};
use crate::procs::{TICKS_PER_SECOND, free_port};
use crate::redis_server::{Info, RedisServer, Usage};
use crate::stack::{Launch, Setup, Target, Upstreams};
use crate::{Alg, GatewaySpec};

/// The processes of a fleet, running. Dropped in this order: the gateways, then Redis, then
/// the upstreams (which remove the run's folder).
pub struct Fleet {
    /// The instances.
    pub gateways: Vec<Target>,
    /// Their Redis.
    pub redis: RedisServer,
    /// The mock OP and the Appwrite emulator.
    pub upstreams: Upstreams,
    /// The one address in front of the instances.
    pub balancer: Arc<Balancer>,
}

/// The counters as a stretch of load began.
pub struct Meter {
    gateway_ticks: u64,
    redis_ticks: u64,
    info: Info,
    began: Instant,
}

/// What a fleet's processes spent over a stretch of load.
pub struct Spent {
    /// CPU ticks of all the gateways together.
    pub gateway_ticks: u64,
    /// CPU ticks of `redis-server`.
    pub redis_ticks: u64,
    /// The gateways' Redis commands and bytes.
    pub usage: Usage,
    /// Redis's `used_memory` before and after, in bytes.
    pub used_memory: (u64, u64),
    /// Wall time.
    pub wall: Duration,
    /// The highest peak resident memory of one gateway over the stretch, in KiB.
    pub gateway_peak_kib: u64,
    /// `redis-server`'s peak resident memory over the stretch, in KiB.
    pub redis_peak_kib: u64,
}

impl Spent {
    /// Gateway CPU per login, in ms.
    pub fn gateway_ms_per(&self, logins: usize) -> f64 {
        ticks_ms(self.gateway_ticks) / logins.max(1) as f64
    }

    /// How many cores the gateways kept busy on average.
    pub fn gateway_cores(&self) -> f64 {
        ticks_ms(self.gateway_ticks) / 1000.0 / self.wall.as_secs_f64().max(1e-9)
    }

    /// `redis-server` CPU per login, in µs.
    pub fn redis_us_per(&self, logins: usize) -> f64 {
        ticks_ms(self.redis_ticks) * 1000.0 / logins.max(1) as f64
    }
}

fn ticks_ms(ticks: u64) -> f64 {
    ticks as f64 * 1000.0 / TICKS_PER_SECOND
}

impl Fleet {
    /// Starts the upstreams (ID tokens signed with `alg`), `redis-server` (with `maxmemory`
    /// when given) and `instances` instances of `spec` (named `<name>-1`, `<name>-2`, …), and
    /// makes one login through the balancer (it creates the user; later logins are a
    /// returning user's).
    ///
    /// # Errors
    /// Any process that does not start, or a first login that fails.
    pub fn start(
        runtime: &tokio::runtime::Runtime,
        spec: &GatewaySpec,
        instances: usize,
        alg: Alg,
        maxmemory: Option<&str>,
    ) -> Result<Self, String> {
        let upstreams = Upstreams::start(alg).map_err(|e| e.to_string())?;
        let redis = RedisServer::start(upstreams.dir(), maxmemory).map_err(|e| e.to_string())?;
        // The balancer's address: a loopback port nothing listens on (every request to it is
        // routed to an instance), as every instance's `public_url`.
        let port = free_port().map_err(|e| format!("a free port: {e}"))?;
        let address = format!("http://127.0.0.1:{port}");
        let redis_url = redis.url();
        let setup = Setup {
            redis_url: Some(&redis_url),
            public_url: Some(&address),
            ..Setup::default()
        };
        let mut gateways = Vec::new();
        for i in 1..=instances.max(1) {
            let instance = GatewaySpec {
                name: format!("{}-{i}", spec.name),
                ..spec.clone()
            };
            let gateway = upstreams.gateway(&instance, &setup, Launch::Direct);
            gateways.push(gateway.map_err(|e| e.to_string())?);
        }
        let urls = gateways.iter().map(|g| g.url.clone()).collect();
        let balancer = Arc::new(Balancer::new(&address, urls));
        runtime
            .block_on(browser::login_via(
                &browser::browser(),
                &start_url(&address, None),
                Some(&balancer),
            ))
            .map_err(|e| format!("the first login failed: {e}"))?;
        Ok(Self {
            gateways,
            redis,
            upstreams,
            balancer,
        })
    }

    /// The `start` URL at the fleet's address, with success and failure URLs of `url_len`
    /// bytes when given.
    pub fn start_url(&self, url_len: Option<usize>) -> String {
        start_url(self.balancer.address(), url_len)
    }

    /// Reads the counters before a stretch of load, and starts every peak over.
    ///
    /// # Errors
    /// When Redis does not answer, or a peak cannot be reset.
    pub fn meter(&mut self) -> Result<Meter, String> {
        // Keeps the emulator's call log short.
        self.upstreams
            .appwrite
            .ask("stats")
            .map_err(|e| e.to_string())?;
        let procs = self.gateways.iter().map(|g| &g.proc);
        for proc in procs.chain([&self.redis.proc]) {
            proc.reset_peak()
                .map_err(|e| format!("{}: cannot reset its peak memory: {e}", proc.name))?;
        }
        Ok(Meter {
            gateway_ticks: self.gateway_ticks(),
            redis_ticks: self.redis.proc.cpu_ticks(),
            info: self.redis.info().map_err(|e| e.to_string())?,
            began: Instant::now(),
        })
    }

    /// What the processes spent since `meter`.
    ///
    /// # Errors
    /// When Redis does not answer.
    pub fn spent(&mut self, meter: &Meter) -> Result<Spent, String> {
        let wall = meter.began.elapsed();
        let info = self.redis.info().map_err(|e| e.to_string())?;
        Ok(Spent {
            gateway_ticks: self.gateway_ticks().saturating_sub(meter.gateway_ticks),
            redis_ticks: self
                .redis
                .proc
                .cpu_ticks()
                .saturating_sub(meter.redis_ticks),
            usage: info.since(&meter.info),
            used_memory: (meter.info.used_memory, info.used_memory),
            wall,
            gateway_peak_kib: self.gateway_kib("VmHWM"),
            redis_peak_kib: self.redis.proc.memory_kib("VmHWM"),
        })
    }

    /// The most resident memory one gateway holds (`VmRSS`) or held at its peak (`VmHWM`),
    /// in KiB.
    pub fn gateway_kib(&self, field: &str) -> u64 {
        let each = self.gateways.iter().map(|g| g.proc.memory_kib(field));
        each.max().unwrap_or(0)
    }

    fn gateway_ticks(&self) -> u64 {
        self.gateways.iter().map(|g| g.proc.cpu_ticks()).sum()
    }
}
