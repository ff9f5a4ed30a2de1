//! `fuzzfleet status`: a one-shot table or JSON document of the local state or of
//! remote agents, or (`--watch`) the live view of `fleet-tui`.

use std::path::Path;
use std::time::Duration;

use anyhow::Result;
use fleet_config::Plan;
use fleet_run::report;
use fleet_tui::source::remote::host_port;
use fleet_tui::wire::StatusWire;
use fleet_tui::{Client, LocalSource, RemoteSource, Source};
use serde_json::{Value, json};

use super::Context;
use crate::cli::StatusArgs;
use crate::exit;

/// A remote node to read: its configured name (if any) and its API.
struct Remote {
    name: Option<String>,
    client: Client,
    /// The SSH tunnel the client goes through (a node with `ssh` and no `api`).
    tunnel: Option<crate::ssh::Tunnel>,
    /// Why the node could not be reached at all (its tunnel did not open).
    error: Option<String>,
}

pub fn status(ctx: &Context, args: &StatusArgs) -> Result<i32> {
    let plan = ctx.plan_if_present()?;
    let explicit = !args.nodes.is_empty() || args.all_nodes;
    let remotes = remotes(ctx, plan.as_ref(), args)?;
    if args.watch {
        return watch(ctx, plan.as_ref(), remotes, explicit, args);
    }
    if explicit {
        let heartbeats = heartbeats(plan.as_ref());
        return remote_once(remotes, &heartbeats, args);
    }
    let state = ctx.state_dir(plan.as_ref());
    let db = super::open_db(&state)?;
    let system = fleet_run::system::sample(&state, Duration::from_millis(200));
    let doc = report::status(&db, &known_targets(plan.as_ref()), system)?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&doc)?);
    } else {
        let wire: StatusWire = serde_json::from_value(serde_json::to_value(&doc)?)?;
        print!("{}", fleet_tui::text::table(&wire));
        print_resources(doc.resources.as_ref());
    }
    Ok(exit::OK)
}

/// The resource guard's pause and active alerts, under the table.
fn print_resources(r: Option<&fleet_run::resources::ResourcesStatus>) {
    let Some(r) = r else {
        return;
    };
    if r.paused {
        println!(
            "PAUSED: the state dir's disk is full; fuzzing resumes by itself when space returns"
        );
    }
    for a in &r.alerts {
        println!(
            "ALERT {} ({}) since {}: {}",
            a.kind, a.severity, a.since, a.message
        );
    }
}

fn known_targets(plan: Option<&Plan>) -> Vec<String> {
    plan.iter()
        .flat_map(|p| p.targets.iter().map(|t| t.name.to_string()))
        .collect()
}

/// The remote nodes asked for: the --node URLs, else the config's nodes with an `api`
/// (with --all-nodes, or in --watch where they join the local node).
fn remotes(ctx: &Context, plan: Option<&Plan>, args: &StatusArgs) -> Result<Vec<Remote>> {
    if !args.nodes.is_empty() {
        let token = args.token_file.as_deref().map(read_token).transpose()?;
        return args
            .nodes
            .iter()
            .map(|url| {
                if !(url.starts_with("http://") || url.starts_with("https://")) {
                    return Err(exit::usage(format!(
                        "--node {url}: expected an http:// or https:// URL of a node's API"
                    )));
                }
                Ok(Remote {
                    name: None,
                    client: Client::new(url, token.clone()),
                    tunnel: None,
                    error: None,
                })
            })
            .collect();
    }
    if !(args.all_nodes || args.watch) {
        return Ok(Vec::new());
    }
    let configured: Vec<_> = plan.iter().flat_map(|p| p.nodes.iter()).collect();
    if args.all_nodes && configured.is_empty() {
        return Err(exit::usage(format!(
            "--all-nodes: {} has no [node.*]",
            ctx.config.display()
        )));
    }
    // A node's `api` URL is read directly; otherwise its agent's loopback port is
    // reached through an SSH tunnel (the default: the API never leaves the node).
    let api_port = fleet_serve::DEFAULT_LISTEN
        .rsplit(':')
        .next()
        .and_then(|p| p.parse::<u16>().ok())
        .unwrap_or(7878);
    // The token `deploy` made for a node and kept for the operator, unless the config
    // names one.
    let kept = ctx.state_dir(plan).join("tokens");
    configured
        .into_iter()
        .map(|n| {
            let token = match &n.token_file {
                Some(file) => Some(read_token(file)?),
                None => {
                    let file = kept.join(n.name.as_str());
                    file.is_file().then(|| read_token(&file)).transpose()?
                }
            };
            let name = n.name.to_string();
            if let Some(api) = &n.api {
                return Ok(Remote {
                    name: Some(name),
                    client: Client::new(api.as_str(), token),
                    tunnel: None,
                    error: None,
                });
            }
            let ssh = n.ssh.as_ref().expect("a node has ssh or api");
            Ok(match crate::ssh::Tunnel::open(&name, ssh, api_port) {
                Ok(tunnel) => Remote {
                    name: Some(name),
                    client: Client::new(&tunnel.url(), token),
                    tunnel: Some(tunnel),
                    error: None,
                },
                Err(e) => Remote {
                    name: Some(name),
                    client: Client::new(&format!("ssh://{ssh}"), token),
                    tunnel: None,
                    error: Some(e),
                },
            })
        })
        .collect()
}

fn read_token(path: &Path) -> Result<String> {
    let token = std::fs::read_to_string(path).map_err(|e| {
        exit::usage(format!(
            "cannot read the token file {}: {e}",
            path.display()
        ))
    })?;
    Ok(token.trim().to_string())
}

/// Each node's last heartbeat in the config's hub (ms since the epoch), by node name:
/// how long an unreachable node has been silent. Empty without a hub or when it cannot
/// be read (the view does not depend on it).
fn heartbeats(plan: Option<&Plan>) -> std::collections::BTreeMap<String, i64> {
    let Some(hub) = plan.and_then(|p| p.hub.as_ref()) else {
        return Default::default();
    };
    let Ok(hub) = fleet_hub::Hub::open(&hub.url, fleet_hub::HubOptions::default()) else {
        return Default::default();
    };
    hub.heartbeats()
        .map(|h| {
            h.heartbeats
                .into_iter()
                .filter_map(|b| {
                    let t = humantime::parse_rfc3339(&b.time).ok()?;
                    let ms = t.duration_since(std::time::UNIX_EPOCH).ok()?.as_millis();
                    Some((b.node.to_string(), i64::try_from(ms).ok()?))
                })
                .collect()
        })
        .unwrap_or_default()
}

/// Prints each remote node's status once; exit 1 when a node did not answer.
fn remote_once(
    remotes: Vec<Remote>,
    heartbeats: &std::collections::BTreeMap<String, i64>,
    args: &StatusArgs,
) -> Result<i32> {
    let now = fleet_store::now_ms();
    let last_heartbeat = |name: &str| heartbeats.get(name).copied();
    let silent_for = |name: &str| {
        last_heartbeat(name).map(|t| {
            humantime::format_duration(std::time::Duration::from_secs(
                u64::try_from((now - t).max(0) / 1000).unwrap_or(0),
            ))
        })
    };
    let single = remotes.len() == 1 && !args.all_nodes;
    let mut failed = false;
    let mut docs = Vec::new();
    for r in &remotes {
        let result = match &r.error {
            Some(e) => Err(anyhow::anyhow!("{e}")),
            None => r.client.status_json().map_err(anyhow::Error::from),
        };
        let name = r.name.clone().unwrap_or_else(|| {
            // A URL alone: the node's own name when it tells it.
            result
                .as_ref()
                .ok()
                .and_then(|_| r.client.node().ok())
                .and_then(|n| n.name)
                .unwrap_or_else(|| host_port(r.client.base()))
        });
        failed |= result.is_err();
        docs.push((name, r.client.base().to_string(), result));
    }
    if args.json {
        if single {
            match &docs[0].2 {
                Ok(doc) => println!("{}", serde_json::to_string_pretty(doc)?),
                Err(e) => eprintln!("node {} unreachable: {e}", docs[0].0),
            }
        } else {
            let nodes: Vec<Value> = docs
                .iter()
                .map(|(name, url, result)| {
                    let last = last_heartbeat(name).map(fleet_store::rfc3339);
                    match result {
                        Ok(doc) => json!({"node": name, "url": url, "status": doc, "error": null,
                            "last_heartbeat": last, "unreachable_for_s": null}),
                        Err(e) => json!({"node": name, "url": url, "status": null,
                            "error": e.to_string(), "last_heartbeat": last,
                            "unreachable_for_s": last_heartbeat(name)
                                .map(|t| (now - t).max(0) / 1000)}),
                    }
                })
                .collect();
            let doc = json!({"version": report::DOC_VERSION, "nodes": nodes});
            println!("{}", serde_json::to_string_pretty(&doc)?);
        }
    } else {
        for (i, (name, url, result)) in docs.iter().enumerate() {
            if !single {
                if i > 0 {
                    println!();
                }
                println!("== node {name} ({url})");
            }
            match result {
                Ok(doc) => {
                    let wire: StatusWire = serde_json::from_value(doc.clone())?;
                    print!("{}", fleet_tui::text::table(&wire));
                }
                Err(e) if single => eprintln!("node {name} unreachable: {e}"),
                Err(e) => match silent_for(name) {
                    Some(d) => println!("unreachable, no heartbeat for {d}: {e}"),
                    None => println!("unreachable: {e}"),
                },
            }
        }
    }
    Ok(if failed { exit::PROBLEM } else { exit::OK })
}

fn watch(
    ctx: &Context,
    plan: Option<&Plan>,
    remotes: Vec<Remote>,
    explicit: bool,
    args: &StatusArgs,
) -> Result<i32> {
    if !(args.interval.is_finite() && args.interval >= 0.1) {
        return Err(exit::usage(format!(
            "--interval {}: expected a number of seconds, at least 0.1",
            args.interval
        )));
    }
    if !fleet_tui::has_tty() {
        return Err(exit::usage(
            "status --watch needs a terminal (stdin and stdout a TTY); \
             use `fuzzfleet status` or `status --json` to print once",
        ));
    }
    let mut sources: Vec<Box<dyn Source>> = Vec::new();
    if !explicit {
        sources.push(Box::new(LocalSource::new(
            ctx.state_dir(plan),
            known_targets(plan),
        )));
    }
    // The tunnels live as long as the view.
    let mut tunnels = Vec::new();
    for r in remotes {
        sources.push(Box::new(RemoteSource::new(r.name, r.client)));
        tunnels.push(r.tunnel);
    }
    fleet_tui::watch(sources, Duration::from_secs_f64(args.interval))?;
    drop(tunnels);
    Ok(exit::OK)
}
