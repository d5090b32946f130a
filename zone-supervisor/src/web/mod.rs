//! The zone seen from a browser and from Prometheus: `/metrics` (the
//! Prometheus text format), a live dashboard at `/` with an arena radar,
//! and the JSON and event stream the dashboard reads.
//!
//! The HTTP server runs on its own thread with its own runtime, so a scrape
//! or a slow browser never runs on, blocks or slows the zone task. The zone
//! publishes a [`Snapshot`] twice a second into a `watch` channel; the
//! server only ever reads the latest one. The one thing the server asks of
//! the zone (through [`WebRequest`]) is "someone watches this arena's
//! radar", which makes that realm send position snapshots for a while.
//!
//! Off unless `[Metrics] Listen` is set. Staff-only: on a loopback address
//! anyone on the machine may look; anywhere else a `[Metrics] Token` is
//! required and every request must carry it (`?token=` or
//! `Authorization: Bearer`). There are no write actions.

mod metrics;
mod publish;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result};
use axum::extract::{Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use serde::{Deserialize, Serialize};
use tokio::sync::{mpsc, watch};
use tracing::{info, warn};

use crate::stats::StatsReport;

pub use publish::WebState;

/// How often the zone publishes a snapshot (and the page updates).
pub const PUBLISH_EVERY: Duration = Duration::from_millis(500);
/// How long one radar request keeps a realm's positions coming.
pub const WATCH_LEASE: Duration = Duration::from_secs(5);

/// `[Metrics]`: where the HTTP listener is, and its token.
#[derive(Clone, Debug, Default)]
pub struct WebConfig {
    /// `Metrics:Listen` (`ip:port`, or a port for 127.0.0.1); `None`: off.
    pub listen: Option<SocketAddr>,
    /// `Metrics:Token`: required on every request when set (and always
    /// when the listener is not on loopback).
    pub token: Option<String>,
}

impl WebConfig {
    /// Reads `[Metrics]`; a listener off loopback without a token is an
    /// error (the dashboard shows player names and positions).
    pub fn read(global: &conf::ConfigFile) -> Result<WebConfig> {
        let listen = match global.get_str("Metrics", "Listen").map(str::trim) {
            None | Some("") => None,
            Some(text) => Some(parse_listen(text).with_context(|| {
                format!("Metrics:Listen = {text:?} is neither ip:port nor a port")
            })?),
        };
        let token = global.get_text("Metrics", "Token").map(str::to_string);
        if let Some(addr) = listen {
            if !addr.ip().is_loopback() && token.is_none() {
                anyhow::bail!(
                    "Metrics:Listen = {addr} is not a loopback address: set Metrics:Token too"
                );
            }
        }
        Ok(WebConfig { listen, token })
    }
}

fn parse_listen(text: &str) -> Result<SocketAddr> {
    if let Ok(port) = text.parse::<u16>() {
        return Ok(SocketAddr::from(([127, 0, 0, 1], port)));
    }
    Ok(text.parse()?)
}

/// What the zone publishes for the web side.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Snapshot {
    /// Milliseconds since the Unix epoch.
    pub at_ms: u64,
    /// The same report `zone-supervisor stats` shows.
    pub report: StatsReport,
    /// Radar dots of the arenas being watched, by arena name.
    pub radar: BTreeMap<String, Vec<RadarDot>>,
}

/// One ship on the radar.
#[derive(Clone, Debug, Serialize)]
pub struct RadarDot {
    /// Player id.
    pub pid: i16,
    /// Name.
    pub name: String,
    /// Position, pixels.
    pub x: i16,
    /// Position, pixels.
    pub y: i16,
    /// Ship (8 = spectator).
    pub ship: u8,
    /// Frequency.
    pub freq: i16,
}

/// What the web side asks of the zone.
#[derive(Debug)]
pub enum WebRequest {
    /// Someone looks at this arena's radar.
    Watch {
        /// Arena name.
        realm: String,
    },
}

/// Shared by the request handlers.
#[derive(Clone)]
struct Shared {
    snapshots: watch::Receiver<Arc<Snapshot>>,
    requests: mpsc::UnboundedSender<WebRequest>,
    token: Option<String>,
    zone: conf::ZoneConfig,
    registry: Arc<prometheus_client::registry::Registry>,
}

/// Binds the listener and starts the server thread. Returns the bound
/// address, the publisher the zone feeds, and the zone's end of the
/// request channel.
pub fn start(cfg: &WebConfig, zone: conf::ZoneConfig) -> Result<Option<(SocketAddr, WebState)>> {
    let Some(addr) = cfg.listen else {
        return Ok(None);
    };
    let listener = std::net::TcpListener::bind(addr)
        .with_context(|| format!("binding the metrics listener {addr}"))?;
    listener.set_nonblocking(true)?;
    let bound = listener.local_addr()?;
    let (snap_tx, snap_rx) = watch::channel(Arc::new(Snapshot::default()));
    let (req_tx, req_rx) = mpsc::unbounded_channel();
    let mut registry = prometheus_client::registry::Registry::default();
    registry.register_collector(Box::new(metrics::SnapshotCollector::new(snap_rx.clone())));
    let shared = Shared {
        snapshots: snap_rx,
        requests: req_tx,
        token: cfg.token.clone(),
        zone,
        registry: Arc::new(registry),
    };
    std::thread::Builder::new()
        .name("web".into())
        .spawn(move || {
            let rt = match tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            {
                Ok(rt) => rt,
                Err(e) => {
                    warn!("no metrics listener: {e}");
                    return;
                }
            };
            rt.block_on(async move {
                let listener = match tokio::net::TcpListener::from_std(listener) {
                    Ok(l) => l,
                    Err(e) => {
                        warn!("no metrics listener: {e}");
                        return;
                    }
                };
                if let Err(e) = axum::serve(listener, router(shared)).await {
                    warn!("metrics listener stopped: {e}");
                }
            });
        })
        .context("starting the metrics thread")?;
    info!(%bound, "metrics and dashboard listening");
    Ok(Some((bound, WebState::new(snap_tx, req_rx))))
}

fn router(shared: Shared) -> Router {
    Router::new()
        .route("/", get(page))
        .route("/metrics", get(metrics_text))
        .route("/api/stats", get(stats_json))
        .route("/snapshot.js", get(snapshot_js))
        .route("/api/map", get(map_json))
        .route("/events", get(events))
        .layer(axum::middleware::from_fn_with_state(
            shared.clone(),
            require_token,
        ))
        .with_state(shared)
}

/// Every request must carry the token when one is set (else 401).
async fn require_token(
    State(s): State<Shared>,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    let params = Query::<Params>::try_from_uri(request.uri())
        .map(|q| q.0)
        .unwrap_or_default();
    if !allowed(&s, &params, request.headers()) {
        return refused();
    }
    next.run(request).await
}

#[derive(Deserialize, Default)]
struct Params {
    token: Option<String>,
    radar: Option<String>,
    realm: Option<String>,
}

/// Whether the request carries the token (or none is needed).
fn allowed(shared: &Shared, params: &Params, headers: &HeaderMap) -> bool {
    let Some(token) = shared.token.as_deref() else {
        return true;
    };
    let bearer = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    params.token.as_deref() == Some(token) || bearer == Some(token)
}

fn refused() -> Response {
    (StatusCode::UNAUTHORIZED, "a token is required\n").into_response()
}

const PAGE: &str = include_str!("dashboard.html");

async fn page() -> Html<&'static str> {
    Html(PAGE)
}

async fn metrics_text(State(s): State<Shared>) -> Response {
    let mut body = String::new();
    if let Err(e) = prometheus_client::encoding::text::encode(&mut body, &s.registry) {
        return (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()).into_response();
    }
    (
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        body,
    )
        .into_response()
}

async fn stats_json(State(s): State<Shared>, Query(p): Query<Params>) -> Response {
    s.watch(p.radar.as_deref());
    let snap = s.snapshots.borrow().clone();
    axum::Json((*snap).clone()).into_response()
}

/// The latest snapshot as a script (`window.SNAPSHOT = …`): the page loads
/// it while it is parsed, so it shows the zone at once, before the event
/// stream's first update.
async fn snapshot_js(State(s): State<Shared>, Query(p): Query<Params>) -> Response {
    s.watch(p.radar.as_deref());
    let snap = s.snapshots.borrow().clone();
    let json = serde_json::to_string(&*snap).unwrap_or_else(|_| "null".into());
    (
        [(
            header::CONTENT_TYPE,
            "application/javascript; charset=utf-8",
        )],
        format!("window.SNAPSHOT = {json};\n"),
    )
        .into_response()
}

impl Shared {
    /// Asks the zone for the radar of `realm` (renews the lease).
    fn watch(&self, realm: Option<&str>) {
        if let Some(realm) = realm {
            let _ = self.requests.send(WebRequest::Watch {
                realm: crate::zone::sanitize_arena_name(realm),
            });
        }
    }
}

/// The map outline of an arena: a 256×256 grid (4×4 tiles per cell), one
/// string per row, `1` where a cell has any wall tile.
#[derive(Serialize)]
struct MapOutline {
    cells: usize,
    rows: Vec<String>,
}

async fn map_json(State(s): State<Shared>, Query(p): Query<Params>) -> Response {
    let Some(realm) = p.realm.as_deref().map(crate::zone::sanitize_arena_name) else {
        return (StatusCode::BAD_REQUEST, "realm= is required\n").into_response();
    };
    let zone = s.zone.clone();
    let outline = tokio::task::spawn_blocking(move || map_outline(&zone, &realm)).await;
    match outline {
        Ok(Ok(o)) => axum::Json(o).into_response(),
        Ok(Err(e)) => (StatusCode::NOT_FOUND, format!("{e:#}\n")).into_response(),
        Err(e) => (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()).into_response(),
    }
}

fn map_outline(zone: &conf::ZoneConfig, realm: &str) -> Result<MapOutline> {
    const CELLS: usize = 256;
    let arena = zone.load_arena(realm)?;
    let Some(found) = zone.load_map(&arena)? else {
        anyhow::bail!("arena {realm} has no map file");
    };
    let map = ss_proto::map::Map::decode(&found.data)?;
    let mut grid = vec![vec![b'0'; CELLS]; CELLS];
    for (x, y, tile) in map.tiles() {
        if tile != 0 {
            grid[usize::from(y) * CELLS / 1024][usize::from(x) * CELLS / 1024] = b'1';
        }
    }
    Ok(MapOutline {
        cells: CELLS,
        rows: grid
            .into_iter()
            .map(|r| String::from_utf8(r).unwrap_or_default())
            .collect(),
    })
}

async fn events(State(s): State<Shared>, Query(p): Query<Params>) -> Response {
    let radar = p.radar.map(|r| crate::zone::sanitize_arena_name(&r));
    let mut rx = s.snapshots.clone();
    let requests = s.requests.clone();
    let stream = async_stream(move |tx| async move {
        loop {
            if let Some(realm) = &radar {
                let _ = requests.send(WebRequest::Watch {
                    realm: realm.clone(),
                });
            }
            let json = serde_json::to_string(&**rx.borrow_and_update()).unwrap_or_default();
            if tx.send(Event::default().data(json)).await.is_err() {
                return;
            }
            if rx.changed().await.is_err() {
                return;
            }
        }
    });
    Sse::new(stream)
        .keep_alive(KeepAlive::default())
        .into_response()
}

/// A stream fed by a task through a small channel (ends when the task
/// does or the client goes away).
fn async_stream<F, Fut>(
    body: F,
) -> impl futures_util::Stream<Item = Result<Event, std::convert::Infallible>>
where
    F: FnOnce(mpsc::Sender<Event>) -> Fut,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    let (tx, rx) = mpsc::channel(4);
    tokio::spawn(body(tx));
    futures_util::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|ev| (Ok(ev), rx))
    })
}
