//! The workstation's CUPS queues that lead to this client's local printer: made (one
//! per server queue, or one for the default queue), removed, and kept accepting.
//!
//! CUPS' stock `ipp` backend stops a whole queue (status "stop printer") when the printer's
//! connection breaks in the middle of a request, as it does when the client is killed or
//! crashes while taking a job. Everything printed afterwards would wait behind a stopped
//! queue, so the client starts its queues again when it starts, and checks them now and
//! then while it runs; the job that was cut off is then sent again by CUPS. This needs the
//! right to enable a queue (root or CUPS' admin group): where the user lacks it, the
//! attempt is logged and an administrator has to run `cupsenable`.

use std::process::Command;
use std::time::Duration;

use crate::error::ClientError;

/// How often a running client looks at its queues.
const CHECK_EVERY: Duration = Duration::from_secs(10);
/// How long a change waits for the scheduler to answer (it may be reloading).
pub const RELOAD_WAIT: Duration = Duration::from_secs(120);

/// `lpstat -v` lines such as `device for Ream: ipp://127.0.0.1:8632/ipp/print`: each
/// queue's name and device.
pub fn parse_devices(lpstat_v: &str) -> Vec<(String, String)> {
    lpstat_v
        .lines()
        .filter_map(|line| line.strip_prefix("device for ")?.split_once(": "))
        .map(|(name, uri)| (name.to_string(), uri.trim().to_string()))
        .collect()
}

/// Every CUPS queue of this computer with its device (`lpstat -v`). An error when the
/// scheduler gives no answer, as while it reads its configuration again: that is never
/// taken for "no queues".
pub fn devices() -> Result<Vec<(String, String)>, ClientError> {
    let out = run(Command::new("lpstat").arg("-v").env("LC_ALL", "C"))?;
    let stderr = String::from_utf8_lossy(&out.stderr);
    // With no queue at all, lpstat says so and fails.
    if !out.status.success() && !stderr.contains("No destinations added") {
        return Err(ClientError::Config(format!("the CUPS scheduler did not answer: {}", stderr.trim())));
    }
    Ok(parse_devices(&String::from_utf8_lossy(&out.stdout)))
}

/// [`devices`] once the scheduler answers, waiting up to `within` while it does not (it
/// holds requests while jobs finish before it reloads, 30 s by default, and drops them
/// when it does). An answer to a request made after the scheduler was told to reload is
/// the reloaded scheduler's.
pub fn devices_once_answered(within: Duration) -> Result<Vec<(String, String)>, ClientError> {
    let start = std::time::Instant::now();
    loop {
        match devices() {
            Ok(devices) => return Ok(devices),
            Err(e) if start.elapsed() >= within => return Err(e),
            Err(_) => std::thread::sleep(Duration::from_millis(100)),
        }
    }
}

/// The names of the queues among `devices` whose device is the local printer on `port`.
pub fn queues_for(devices: &[(String, String)], port: u16) -> Vec<String> {
    devices.iter().filter(|(_, uri)| leads_to_client(uri, port)).map(|(name, _)| name.clone()).collect()
}

/// Whether a queue's device is this client's local printer on `port`.
pub fn leads_to_client(device: &str, port: u16) -> bool {
    ["127.0.0.1", "localhost", "[::1]"].iter().any(|host| device.contains(&format!("://{host}:{port}/")))
}

/// Whether `lpstat -p NAME` says the queue is stopped.
fn stopped(name: &str) -> bool {
    Command::new("lpstat")
        .args(["-p", name])
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).contains("disabled"))
        .unwrap_or(false)
}

/// Starts again every stopped queue that leads to this client's printer on `port`.
pub fn resume_queues(port: u16) {
    let Ok(devices) = devices() else { return };
    for name in queues_for(&devices, port) {
        if !stopped(&name) {
            continue;
        }
        match Command::new("cupsenable").arg(&name).output() {
            Ok(o) if o.status.success() => {
                tracing::info!(queue = %name, "started the stopped CUPS queue again")
            }
            Ok(o) => tracing::warn!(queue = %name, error = %String::from_utf8_lossy(&o.stderr).trim(),
                "the CUPS queue is stopped and this user may not start it: ask an administrator to run cupsenable"),
            Err(e) => tracing::warn!(queue = %name, error = %e, "cannot run cupsenable"),
        }
    }
}

/// [`resume_queues`] now and every few seconds, for as long as the client runs.
pub async fn keep_queues_going(port: u16) {
    loop {
        let _ = tokio::task::spawn_blocking(move || resume_queues(port)).await;
        tokio::time::sleep(CHECK_EVERY).await;
    }
}

/// A CUPS queue name made from a server queue's name: CUPS takes letters, digits and a
/// few marks, at most 127 bytes; anything else becomes `-`.
pub fn queue_name(prefix: &str, queue: Option<&str>) -> String {
    let Some(queue) = queue else { return prefix.to_string() };
    let tail: String = queue
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.') { c } else { '-' })
        .collect();
    let mut name = format!("{prefix}-{tail}");
    name.truncate(127);
    name
}

/// Creates (or updates) the driverless queue `name` printing to `uri`, and waits for CUPS
/// to have made its PPD (lpadmin returns before that, and fails silently when the
/// printer's attributes do not suit CUPS).
pub fn install(name: &str, uri: &str, description: &str) -> Result<(), ClientError> {
    let out =
        // A job the client could not take (it was stopped, or died mid-transfer) is sent
        // again when it is back, rather than stopping the queue or dropping the job.
        run(Command::new("lpadmin").args([
            "-p",
            name,
            "-E",
            "-v",
            uri,
            "-m",
            "everywhere",
            "-D",
            description,
            "-o",
            "printer-error-policy=retry-current-job",
            // The queue leads to this user's own client, which takes the job as theirs:
            // never offered to the network (and never advertised over DNS-SD, which
            // cupsd crashed on while queues came and went).
            "-o",
            "printer-is-shared=false",
        ]))?;
    if !out.status.success() {
        return Err(ClientError::Config(format!(
            "lpadmin failed: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        )));
    }
    for _ in 0..100 {
        let status = run(Command::new("lpoptions").args(["-p", name, "-l"]))?;
        if status.status.success() && !status.stdout.is_empty() {
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    Err(ClientError::Config(format!(
        "CUPS made no driver for {name}: is the Ream client listening at {uri}? (see /var/log/cups/error_log)"
    )))
}

/// Removes every CUPS queue that prints to this client's printer on `port`; their names.
pub fn uninstall(port: u16) -> Result<Vec<String>, ClientError> {
    let mut removed = Vec::new();
    for name in queues_for(&devices_once_answered(RELOAD_WAIT)?, port) {
        let out = run(Command::new("lpadmin").args(["-x", &name]))?;
        if !out.status.success() {
            return Err(ClientError::Config(format!(
                "lpadmin -x {name} failed: {}",
                String::from_utf8_lossy(&out.stderr).trim()
            )));
        }
        removed.push(name);
    }
    Ok(removed)
}

fn run(cmd: &mut Command) -> Result<std::process::Output, ClientError> {
    cmd.output().map_err(|e| ClientError::Config(format!("cannot run {cmd:?}: {e} (is CUPS installed?)")))
}

#[cfg(test)]
mod tests {
    #[test]
    fn queue_names_suit_cups() {
        assert_eq!(super::queue_name("Ream", None), "Ream");
        assert_eq!(super::queue_name("Ream", Some("Secure")), "Ream-Secure");
        assert_eq!(super::queue_name("Ream", Some("Étage 2/couleur")), "Ream--tage-2-couleur");
        assert_eq!(super::queue_name("R", Some(&"x".repeat(300))).len(), 127);
    }

    #[test]
    fn only_the_queues_of_this_clients_printer_are_ours() {
        let lpstat = "device for Ream: ipp://127.0.0.1:8632/ipp/print\n\
                      device for Office: ipps://printer.example/ipp/print\n\
                      device for Other-user: ipp://127.0.0.1:8633/ipp/print\n\
                      device for Ream-2: ipp://localhost:8632/ipp/print\n";
        let devices = super::parse_devices(lpstat);
        assert_eq!(devices[1], ("Office".to_string(), "ipps://printer.example/ipp/print".to_string()));
        assert_eq!(super::queues_for(&devices, 8632), ["Ream", "Ream-2"]);
        assert!(super::parse_devices("").is_empty());
    }
}
