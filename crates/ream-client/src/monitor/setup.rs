//! `ream cups monitor`: sets monitoring up on this computer as the server's policy says
//! (root, once, and again after the policy or the printers change), and undoes it.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Command;

use ream_wire::LocalMonitoringInfo;
use serde::Serialize;

use super::{unwrap, wrap, Paths, QueueSetup};
use crate::error::{ClientError, Result};

/// One queue as `ream cups monitor` left it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct QueueState {
    pub queue: String,
    pub device_uri: String,
    pub monitored: bool,
}

/// The computer's CUPS queues and their devices, by the `printers` crate.
pub fn local_queues() -> Vec<(String, String)> {
    printers::get_printers().into_iter().map(|p| (p.system_name, p.port_name)).collect()
}

/// Which of `queues` (name, current device) to monitor under `info`'s policy, leaving
/// out those that print to this computer's Ream client on `port`; each with its real
/// device and whether it is to be monitored.
pub fn plan(info: &LocalMonitoringInfo, queues: &[(String, String)], port: u16) -> Vec<QueueState> {
    queues
        .iter()
        .filter_map(|(name, device)| {
            let real = unwrap(device).unwrap_or(device);
            if crate::cups::leads_to_client(real, port) || real.is_empty() {
                return None;
            }
            Some(QueueState {
                queue: name.clone(),
                device_uri: real.to_string(),
                monitored: info.monitoring.monitors(name),
            })
        })
        .collect()
}

fn lpadmin_device(queue: &str, uri: &str) -> Result<()> {
    let out = Command::new("lpadmin")
        .args(["-p", queue, "-v", uri])
        .output()
        .map_err(|e| ClientError::Config(format!("cannot run lpadmin: {e} (is CUPS installed?)")))?;
    if !out.status.success() {
        return Err(ClientError::Config(format!(
            "lpadmin -p {queue} -v {uri} failed: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        )));
    }
    Ok(())
}

fn private_dir(path: &Path, mode: u32) -> Result<()> {
    let io = |e: std::io::Error| ClientError::Config(format!("{}: {e}", path.display()));
    std::fs::create_dir_all(path).map_err(io)?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).map_err(io)
}

/// Sets monitoring up: the backend, its folders, and every queue as [`plan`] says (a
/// queue no longer monitored gets its device back). Needs root.
pub fn install(
    paths: &Paths,
    info: &LocalMonitoringInfo,
    server: &str,
    ream: &Path,
    port: u16,
) -> Result<Vec<QueueState>> {
    if !info.monitoring.enabled {
        return Err(ClientError::Config(
            "local print monitoring is off on the server (an administrator runs `ream-server admin local policy --enabled true`)".into(),
        ));
    }
    let io = |what: &Path, e: std::io::Error| ClientError::Config(format!("{}: {e}", what.display()));
    // The backend runs as root (mode 0700, as CUPS wants of a backend that must).
    let backend = paths.backend();
    let script = format!(
        "#!/bin/sh\n# Ream's CUPS backend: jobs of monitored queues print once Ream granted them.\n\
         exec '{}' cups backend \"$@\"\n",
        ream.display().to_string().replace('\'', "'\\''")
    );
    std::fs::write(&backend, script).map_err(|e| io(&backend, e))?;
    std::fs::set_permissions(&backend, std::fs::Permissions::from_mode(0o700))
        .map_err(|e| io(&backend, e))?;
    private_dir(&paths.setup_dir(), 0o700)?;
    // Each user's client writes its own file here; nobody lists the others'.
    private_dir(&paths.agents_dir(), 0o1733)?;
    private_dir(&paths.held_dir(), 0o755)?;

    let planned = plan(info, &local_queues(), port);
    for q in &planned {
        let file = paths.setup_file(&q.queue);
        if q.monitored {
            let setup = QueueSetup {
                queue: q.queue.clone(),
                device_uri: q.device_uri.clone(),
                server: server.to_string(),
                grant_key: info.grant_key.clone(),
            };
            let json = serde_json::to_vec_pretty(&setup).map_err(|e| ClientError::Config(e.to_string()))?;
            crate::files::replace_synced(&file, &json).map_err(|e| io(&file, e))?;
            lpadmin_device(&q.queue, &wrap(&q.device_uri))?;
            tracing::info!(queue = %q.queue, device = %q.device_uri, "monitored");
        } else if file.exists() {
            lpadmin_device(&q.queue, &q.device_uri)?;
            let _ = std::fs::remove_file(&file);
            tracing::info!(queue = %q.queue, "no longer monitored");
        }
    }
    Ok(planned)
}

/// Undoes [`install`]: every monitored queue gets its device back, the backend goes.
pub fn undo(paths: &Paths) -> Result<Vec<QueueState>> {
    let mut restored = Vec::new();
    let entries = match std::fs::read_dir(paths.setup_dir()) {
        Ok(e) => e.flatten().collect::<Vec<_>>(),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
        Err(e) => return Err(ClientError::Config(format!("{}: {e}", paths.setup_dir().display()))),
    };
    let existing: Vec<String> = local_queues().into_iter().map(|(n, _)| n).collect();
    for entry in entries {
        let Ok(setup) =
            serde_json::from_slice::<QueueSetup>(&std::fs::read(entry.path()).unwrap_or_default())
        else {
            continue;
        };
        if existing.contains(&setup.queue) {
            lpadmin_device(&setup.queue, &setup.device_uri)?;
        }
        let _ = std::fs::remove_file(entry.path());
        restored.push(QueueState { queue: setup.queue, device_uri: setup.device_uri, monitored: false });
    }
    let _ = std::fs::remove_file(paths.backend());
    // Clients stop registering; held jobs' notes go (their jobs print as any other now).
    let _ = std::fs::remove_dir_all(paths.agents_dir());
    let _ = std::fs::remove_dir_all(paths.held_dir());
    Ok(restored)
}

#[cfg(test)]
mod tests {
    use super::*;
    use ream_wire::LocalMonitoring;

    #[test]
    fn the_plan_follows_the_policy_and_leaves_reams_own_queue_alone() {
        let mut info = LocalMonitoringInfo {
            monitoring: LocalMonitoring { enabled: true, ..LocalMonitoring::default() },
            grant_key: String::new(),
        };
        let queues = vec![
            ("Ream".to_string(), "ipp://127.0.0.1:8632/ipp/print".to_string()),
            ("Office".to_string(), "socket://10.0.0.7:9100".to_string()),
            ("Lab".to_string(), "ream:/ipp://lab.example/ipp/print".to_string()),
        ];
        let planned = plan(&info, &queues, 8632);
        assert_eq!(
            planned,
            [
                QueueState {
                    queue: "Office".into(),
                    device_uri: "socket://10.0.0.7:9100".into(),
                    monitored: true
                },
                QueueState {
                    queue: "Lab".into(),
                    device_uri: "ipp://lab.example/ipp/print".into(),
                    monitored: true
                },
            ]
        );
        info.monitoring.queues = vec!["Lab".into()];
        let planned = plan(&info, &queues, 8632);
        assert_eq!(
            planned.iter().filter(|q| q.monitored).map(|q| q.queue.as_str()).collect::<Vec<_>>(),
            ["Lab"]
        );
    }
}
