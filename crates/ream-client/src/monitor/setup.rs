//! `ream cups monitor`: sets monitoring up on this computer as the server's policy says
//! (root, once, and again after the policy or the printers change), and undoes it; and
//! `ream cups install --shared`: the Ream queues everyone on the computer prints to, each
//! job routed to its sender's own client (see [`super::route`]).

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Command;

use ream_wire::LocalMonitoringInfo;
use serde::Serialize;

use super::{routed_device, routed_path, unwrap, wrap, Paths, QueueSetup, Wait};
use crate::error::{ClientError, Result};

/// The CUPS operation policy of monitored and shared queues: CUPS' default one, except
/// that creating a job needs an authenticated user (by peer credentials on the local
/// socket), so that the job's owner is who sent it, whatever `lp -U` says.
pub const POLICY: &str = "ream-monitored";

const BEGIN: &str = "# Ream: the policy of locally monitored queues (ream cups monitor). Begin.";
const END: &str = "# Ream: end.";

/// The policy's block in `cupsd.conf`, between markers `undo` finds again.
fn policy_block() -> String {
    let owner_ops = "Send-Document Send-URI Hold-Job Release-Job Restart-Job Purge-Jobs Set-Job-Attributes \
        Create-Job-Subscription Renew-Subscription Cancel-Subscription Get-Notifications Reprocess-Job \
        Cancel-Current-Job Suspend-Current-Job Resume-Job Cancel-My-Jobs Close-Job CUPS-Move-Job";
    let admin_ops = "CUPS-Add-Modify-Printer CUPS-Delete-Printer CUPS-Add-Modify-Class CUPS-Delete-Class \
        CUPS-Set-Default CUPS-Get-Devices Pause-Printer Resume-Printer Enable-Printer Disable-Printer \
        Pause-Printer-After-Current-Job Hold-New-Jobs Release-Held-New-Jobs Deactivate-Printer \
        Activate-Printer Restart-Printer Shutdown-Printer Startup-Printer Promote-Job Schedule-Job-After \
        Cancel-Jobs CUPS-Accept-Jobs CUPS-Reject-Jobs";
    format!(
        "{BEGIN}\n<Policy {POLICY}>\n  JobPrivateAccess default\n  JobPrivateValues default\n  \
         SubscriptionPrivateAccess default\n  SubscriptionPrivateValues default\n  \
         <Limit Create-Job Print-Job Print-URI Validate-Job>\n    AuthType Default\n    Require valid-user\n    \
         Order deny,allow\n  </Limit>\n  <Limit {owner_ops}>\n    Require user @OWNER @SYSTEM\n    \
         Order deny,allow\n  </Limit>\n  <Limit CUPS-Get-Document>\n    AuthType Default\n    \
         Require user @OWNER @SYSTEM\n    Order deny,allow\n  </Limit>\n  <Limit {admin_ops}>\n    \
         AuthType Default\n    Require user @SYSTEM\n    Order deny,allow\n  </Limit>\n  \
         <Limit Cancel-Job CUPS-Authenticate-Job>\n    Require user @OWNER @SYSTEM\n    Order deny,allow\n  \
         </Limit>\n  <Limit All>\n    Order deny,allow\n  </Limit>\n</Policy>\n{END}\n"
    )
}

/// `conf` with the policy block in (once) or out.
pub fn with_policy(conf: &str, wanted: bool) -> String {
    let without = match (conf.find(BEGIN), conf.find(END)) {
        (Some(b), Some(e)) if e > b => {
            format!("{}{}", &conf[..b], conf[e + END.len()..].trim_start_matches('\n'))
        }
        _ => conf.to_string(),
    };
    if wanted {
        let sep = if without.ends_with('\n') || without.is_empty() { "" } else { "\n" };
        format!("{without}{sep}{}", policy_block())
    } else {
        without
    }
}

/// Writes the policy into (or out of) `cupsd.conf` and has the scheduler read it again,
/// when that changes anything.
fn set_policy(paths: &Paths, wanted: bool) -> Result<()> {
    let path = paths.cupsd_conf();
    let io = |e: std::io::Error| ClientError::Config(format!("{}: {e}", path.display()));
    let conf = std::fs::read_to_string(&path).map_err(io)?;
    let changed = with_policy(&conf, wanted);
    if changed == conf {
        return Ok(());
    }
    let mode = std::fs::metadata(&path).map_err(io)?.permissions();
    std::fs::write(&path, changed).map_err(io)?;
    std::fs::set_permissions(&path, mode).map_err(io)?;
    // The scheduler reads its configuration again on SIGHUP; it answers again once it has
    // (and a listing asked before then may come back empty: see `cups::devices`).
    let _ = Command::new("pkill").args(["-HUP", "-x", "cupsd"]).status();
    crate::cups::devices_once_answered(crate::cups::RELOAD_WAIT).map(drop).map_err(|e| {
        ClientError::Config(format!(
            "the CUPS scheduler did not come back after reading its configuration: {e}"
        ))
    })
}

/// Sets a queue's operation policy, once the scheduler knows it (it may be reloading).
fn lpadmin_policy(queue: &str, policy: &str) -> Result<()> {
    let mut last = String::new();
    for _ in 0..50 {
        let out = Command::new("lpadmin")
            .args(["-p", queue, "-o", &format!("printer-op-policy={policy}")])
            .output()
            .map_err(|e| ClientError::Config(format!("cannot run lpadmin: {e}")))?;
        if out.status.success() {
            return Ok(());
        }
        last = String::from_utf8_lossy(&out.stderr).trim().to_string();
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
    Err(ClientError::Config(format!("cannot give {queue} the policy {policy}: {last}")))
}

/// One queue as `ream cups monitor` left it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct QueueState {
    pub queue: String,
    pub device_uri: String,
    pub monitored: bool,
}

/// The computer's CUPS queues and their devices, once the scheduler answers.
pub fn local_queues() -> Result<Vec<(String, String)>> {
    crate::cups::devices_once_answered(crate::cups::RELOAD_WAIT)
}

/// Which of `queues` (name, current device) to monitor under `info`'s policy, leaving
/// out those that print to this computer's Ream client on `port`; each with its real
/// device and whether it is to be monitored.
pub fn plan(info: &LocalMonitoringInfo, queues: &[(String, String)], port: u16) -> Vec<QueueState> {
    queues
        .iter()
        .filter_map(|(name, device)| {
            let real = unwrap(device).unwrap_or(device);
            if crate::cups::leads_to_client(real, port) || real.is_empty() || routed_path(device).is_some() {
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
    lpadmin(&["-p", queue, "-v", uri])
}

/// `lpadmin ARGS…`, its complaint as the error when it fails.
fn lpadmin(args: &[&str]) -> Result<()> {
    let out = Command::new("lpadmin")
        .args(args)
        .output()
        .map_err(|e| ClientError::Config(format!("cannot run lpadmin: {e} (is CUPS installed?)")))?;
    if !out.status.success() {
        return Err(ClientError::Config(format!(
            "lpadmin {} failed: {}",
            args.join(" "),
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

/// Ream's backend (monitoring's and the shared queue's), the folder where each user's
/// client registers, and the policy of the queues it serves.
fn install_backend(paths: &Paths, ream: &Path) -> Result<()> {
    let io = |what: &Path, e: std::io::Error| ClientError::Config(format!("{}: {e}", what.display()));
    // The backend runs as root (mode 0700, as CUPS wants of a backend that must).
    let backend = paths.backend();
    let script = format!(
        "#!/bin/sh\n# Ream's CUPS backend: monitored queues' jobs print once Ream granted them; \
         shared queues' go to their sender's client.\nexec '{}' cups backend \"$@\"\n",
        ream.display().to_string().replace('\'', "'\\''")
    );
    std::fs::write(&backend, script).map_err(|e| io(&backend, e))?;
    std::fs::set_permissions(&backend, std::fs::Permissions::from_mode(0o700))
        .map_err(|e| io(&backend, e))?;
    // Each user's client writes its own file here; nobody lists the others'.
    private_dir(&paths.agents_dir(), 0o1733)?;
    set_policy(paths, true)
}

/// The computer's queues whose jobs go to their sender's client.
pub fn shared_queues() -> Result<Vec<String>> {
    let queues = local_queues()?;
    Ok(queues.into_iter().filter(|(_, device)| routed_path(device).is_some()).map(|(n, _)| n).collect())
}

/// Makes (or updates) the shared queue `name` for the server queue `queue` (its default
/// queue: `None`). Its driver comes from the local printer listening on `printer_port`
/// now (as any Ream queue's); then its device becomes [`routed_device`] and its policy
/// [`POLICY`]. Needs root.
pub fn share(
    paths: &Paths,
    ream: &Path,
    name: &str,
    queue: Option<&str>,
    printer_port: u16,
) -> Result<String> {
    install_backend(paths, ream)?;
    private_dir(&paths.held_dir(Wait::Client), 0o755)?;
    let description = match queue {
        Some(q) => format!("Ream: {q} (each person's own account)"),
        None => "Ream (each person's own account)".to_string(),
    };
    crate::cups::install(name, &crate::ipp_endpoint::printer_uri(printer_port, queue), &description)?;
    let device = routed_device(queue);
    lpadmin_device(name, &device)?;
    lpadmin_policy(name, POLICY)?;
    tracing::info!(queue = name, device, "shared: each job goes to its sender's client");
    Ok(device)
}

/// `ream cups install --shared`: [`share`] for each of `wanted` (CUPS name, server
/// queue), their driver made from a local printer of `engine` served meanwhile; each with
/// its device.
pub async fn share_all(
    engine: &crate::engine::Engine,
    ream: &Path,
    wanted: Vec<(String, Option<String>)>,
) -> Result<Vec<(String, Option<String>, String)>> {
    let io =
        |e: std::io::Error| ClientError::Config(format!("cannot serve a printer for CUPS to describe: {e}"));
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0)).await.map_err(io)?;
    let port = listener.local_addr().map_err(io)?.port();
    let scratch = tempfile::tempdir().map_err(io)?;
    let printer =
        tokio::spawn(crate::ipp_endpoint::serve(engine.clone(), listener, scratch.path().join("spool")));
    let ream = ream.to_path_buf();
    let made = tokio::task::spawn_blocking(move || {
        wanted
            .into_iter()
            .map(|(cups, queue)| {
                let device = share(&Paths::default(), &ream, &cups, queue.as_deref(), port)?;
                Ok((cups, queue, device))
            })
            .collect::<Result<Vec<_>>>()
    })
    .await
    .map_err(|e| ClientError::Config(e.to_string()));
    printer.abort();
    made?
}

/// Removes every shared queue; their names. Needs root.
pub fn unshare(paths: &Paths) -> Result<Vec<String>> {
    let mut removed = Vec::new();
    for name in shared_queues()? {
        lpadmin(&["-x", &name])?;
        removed.push(name);
    }
    let _ = std::fs::remove_dir_all(paths.held_dir(Wait::Client));
    remove_backend_if_unused(paths)?;
    Ok(removed)
}

/// Removes the backend, its policy and the clients' registrations once no queue needs them.
fn remove_backend_if_unused(paths: &Paths) -> Result<()> {
    let monitoring = std::fs::read_dir(paths.setup_dir()).is_ok_and(|mut d| d.next().is_some());
    if monitoring || !shared_queues()?.is_empty() {
        return Ok(());
    }
    let _ = std::fs::remove_file(paths.backend());
    set_policy(paths, false)?;
    // Clients stop registering.
    let _ = std::fs::remove_dir_all(paths.agents_dir());
    Ok(())
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
    install_backend(paths, ream)?;
    private_dir(&paths.setup_dir(), 0o700)?;
    private_dir(&paths.held_dir(Wait::Decision), 0o755)?;
    let planned = plan(info, &local_queues()?, port);
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
            lpadmin_policy(&q.queue, POLICY)?;
            tracing::info!(queue = %q.queue, device = %q.device_uri, "monitored");
        } else if file.exists() {
            lpadmin_device(&q.queue, &q.device_uri)?;
            lpadmin_policy(&q.queue, "default")?;
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
    let existing: Vec<String> = local_queues()?.into_iter().map(|(n, _)| n).collect();
    for entry in entries {
        let Ok(setup) =
            serde_json::from_slice::<QueueSetup>(&std::fs::read(entry.path()).unwrap_or_default())
        else {
            continue;
        };
        if existing.contains(&setup.queue) {
            lpadmin_device(&setup.queue, &setup.device_uri)?;
            lpadmin_policy(&setup.queue, "default")?;
        }
        let _ = std::fs::remove_file(entry.path());
        restored.push(QueueState { queue: setup.queue, device_uri: setup.device_uri, monitored: false });
    }
    // Held jobs' notes go (their jobs print as any other now).
    let _ = std::fs::remove_dir_all(paths.held_dir(Wait::Decision));
    remove_backend_if_unused(paths)?;
    Ok(restored)
}

#[cfg(test)]
mod tests {
    use super::*;
    use ream_wire::LocalMonitoring;

    #[test]
    fn the_policy_goes_into_cupsd_conf_once_and_comes_out_whole() {
        let conf = "Listen /run/cups/cups.sock\n<Policy default>\n</Policy>\n";
        let with = with_policy(conf, true);
        assert!(with.starts_with(conf) && with.contains(&format!("<Policy {POLICY}>")));
        assert!(with.contains("<Limit Create-Job Print-Job Print-URI Validate-Job>\n    AuthType Default\n    Require valid-user"));
        assert_eq!(with_policy(&with, true), with, "set up twice: once");
        assert_eq!(with_policy(&with, false), conf);
        assert_eq!(with_policy(conf, false), conf);
    }

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
