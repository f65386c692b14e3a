//! The session agent: one login per workstation user, shared by every front end.
//!
//! The running client (`ream run` or the desktop app, the holder of the
//! [`crate::instance`] claim) listens on a Unix socket in the user's cache folder. Any
//! other front end (`ream jobs`, `ream jobs answer`, `ream watch`, `ream status`…) asks it
//! for an access token instead of refreshing the login itself, hands it a login it made,
//! or asks it to log out: only one process ever spends the refresh token, so the server
//! never takes a second front end for a thief. With no running client, front ends
//! refresh under a cross-process lock instead (see the engine's session module).
//!
//! Trust: the socket's folder is the user's own (0700), the socket 0600, and a peer that
//! is not the same OS user is refused before a byte is read. Only access tokens leave
//! (15 minutes by default); the refresh token never does.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use ream_wire::{AgentReply, AgentRequest};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{UnixListener, UnixStream};

use crate::engine::Engine;

/// A request or a reply is one JSON line, at most this long.
const MAX_LINE: usize = 64 * 1024;

/// How long a front end waits for the running client's answer (a refresh included).
const PATIENCE: Duration = Duration::from_secs(30);

/// The socket of this user's running client.
pub fn socket_path() -> PathBuf {
    crate::settings::cache_dir().join("session.sock")
}

/// Serves `engine`'s login on [`socket_path`] until the task is dropped. Only the holder
/// of the instance claim calls this, so a socket file found there is a dead client's.
pub async fn serve(engine: Engine) -> std::io::Result<()> {
    serve_at(engine, &socket_path()).await
}

pub async fn serve_at(engine: Engine, path: &Path) -> std::io::Result<()> {
    let dir = path.parent().expect("the socket has a folder");
    std::fs::create_dir_all(dir)?;
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))?;
    match std::fs::remove_file(path) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(e),
        _ => {}
    }
    let listener = UnixListener::bind(path)?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))?;
    // Ream's CUPS backend finds this user's client here, where monitoring is set up.
    match crate::monitor::Registry::new(crate::monitor::Paths::default()).register(own_uid(), path) {
        Ok(true) => tracing::info!("registered for local print monitoring"),
        Ok(false) => {}
        Err(e) => {
            tracing::warn!(error = %e, "cannot register for local print monitoring: jobs on monitored queues wait")
        }
    }
    engine.serve_as_agent();
    // This user's jobs on a shared queue that waited for this client come now.
    let releaser = engine.clone();
    tokio::task::spawn_blocking(move || releaser.release_held_local(crate::monitor::Wait::Client));
    tracing::info!(socket = %path.display(), "lending the login to this user's other front ends");
    loop {
        let (stream, _) = listener.accept().await?;
        let engine = engine.clone();
        tokio::spawn(async move {
            if let Err(e) = answer(&engine, stream).await {
                tracing::debug!(error = %e, "a session-agent request failed");
            }
        });
    }
}

fn own_uid() -> u32 {
    // SAFETY: geteuid has no preconditions and cannot fail.
    unsafe { libc::geteuid() }
}

async fn answer(engine: &Engine, stream: UnixStream) -> std::io::Result<()> {
    let peer = stream.peer_cred()?;
    // Root is let in for two questions only, both Ream's CUPS backend's (see
    // `crate::monitor`): whether a job of this user on a monitored local queue may print,
    // and where this user's local printer listens (for a job on the shared queue).
    let root = peer.uid() == 0 && own_uid() != 0;
    if peer.uid() != own_uid() && !root {
        tracing::warn!(uid = peer.uid(), "refused a session-agent request from another OS user");
        return Ok(());
    }
    let (read, mut write) = stream.into_split();
    let line = read_line(read).await?;
    let reply = match serde_json::from_str::<AgentRequest>(&line) {
        Ok(request @ (AgentRequest::LocalPrint(_) | AgentRequest::PrinterPort)) => {
            engine.agent_answer(request).await
        }
        Ok(_) if root => {
            tracing::warn!("refused a session-agent request from root other than the CUPS backend's");
            return Ok(());
        }
        Ok(request) => engine.agent_answer(request).await,
        Err(e) => AgentReply::Refused { code: "PROTOCOL".into(), message: format!("not a request: {e}") },
    };
    let mut out = serde_json::to_vec(&reply).map_err(std::io::Error::other)?;
    out.push(b'\n');
    write.write_all(&out).await?;
    write.shutdown().await
}

async fn read_line(read: impl tokio::io::AsyncRead + Unpin) -> std::io::Result<String> {
    let mut line = String::new();
    let mut limited = BufReader::new(read).take(MAX_LINE as u64);
    limited.read_line(&mut line).await?;
    if !line.ends_with('\n') {
        return Err(std::io::Error::new(std::io::ErrorKind::InvalidData, "no complete line"));
    }
    Ok(line)
}

/// Asks this user's running client; `None` when none listens (none runs, or it died and
/// left its socket behind) or it did not answer in time.
pub async fn ask(request: &AgentRequest) -> Option<AgentReply> {
    ask_at(&socket_path(), request).await
}

pub async fn ask_at(path: &Path, request: &AgentRequest) -> Option<AgentReply> {
    let exchange = async { exchange(UnixStream::connect(path).await.ok()?, request).await };
    match tokio::time::timeout(PATIENCE, exchange).await {
        Ok(reply) => reply,
        Err(_) => {
            tracing::warn!("the running Ream client did not answer in {} s", PATIENCE.as_secs());
            None
        }
    }
}

/// One request and its answer over a connected socket.
pub async fn exchange(mut stream: UnixStream, request: &AgentRequest) -> Option<AgentReply> {
    let mut line = serde_json::to_vec(request).ok()?;
    line.push(b'\n');
    stream.write_all(&line).await.ok()?;
    let answer = read_line(stream).await.ok()?;
    serde_json::from_str(&answer).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn no_running_client_is_no_answer() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("session.sock");
        assert_eq!(ask_at(&path, &AgentRequest::Logout { server: "x".into() }).await, None);
        // A dead client's socket file: nobody accepts on it.
        drop(std::os::unix::net::UnixListener::bind(&path).unwrap());
        assert_eq!(ask_at(&path, &AgentRequest::Logout { server: "x".into() }).await, None);
    }

    #[tokio::test]
    async fn the_socket_is_the_users_alone_and_a_bad_line_gets_a_clear_refusal() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ream/session.sock");
        let engine = Engine::new(crate::Settings::default(), std::sync::Arc::new(NoSecrets), false);
        let at = path.clone();
        tokio::spawn(async move {
            let _ = serve_at(engine, &at).await;
        });
        while !path.exists() {
            tokio::task::yield_now().await;
        }
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!((mode(path.parent().unwrap()), mode(&path)), (0o700, 0o600));

        let mut stream = UnixStream::connect(&path).await.unwrap();
        stream.write_all(b"{\"op\":\"steal\"}\n").await.unwrap();
        let reply: AgentReply = serde_json::from_str(&read_line(stream).await.unwrap()).unwrap();
        assert!(matches!(reply, AgentReply::Refused { ref code, .. } if code == "PROTOCOL"), "{reply:?}");

        // Nobody is logged in on that engine: it says so rather than lending anything.
        let reply = ask_at(&path, &AgentRequest::Session { server: "http://127.0.0.1:9".into() }).await;
        assert!(matches!(reply, Some(AgentReply::Refused { .. })), "{reply:?}");
    }

    struct NoSecrets;
    impl crate::secrets::SecretStore for NoSecrets {
        fn get(&self, _: &str) -> crate::Result<Option<String>> {
            Ok(None)
        }
        fn set(&self, _: &str, _: &str) -> crate::Result<()> {
            Ok(())
        }
        fn delete(&self, _: &str) -> crate::Result<()> {
            Ok(())
        }
    }
}
