//! The line between the app's two programs: the client (`ream-desktop`: engine, tray,
//! notifications; it runs all day) and its window (`ream-window`: Tauri and WebKit; it
//! runs while somebody looks). The client starts the window with one end of a socket
//! pair as file descriptor [`WINDOW_FD`]; nothing else can reach it, so no name on disk,
//! no peer to check.
//!
//! One JSON object per line each way: the window sends its webview's commands
//! ([`Call`]); the client answers each by id and sends the engine's events and where the
//! window should go ([`ToWindow`]). The window acknowledges a [`ToWindow::Navigate`]
//! once it has shown itself, so a window on its way out (it closes, then its process
//! ends) never swallows a request to open: no acknowledgement and the line's end mean
//! "start a new one". Either side ending closes the line, and the other notices.

use std::io::{BufRead, Read, Write};

use ream_wire::ClientEvent;
use serde::{Deserialize, Serialize};

/// The one shape every command error takes on its way to the webview:
/// `{ code, message, details }`. `code` is the engine's stable code
/// (`ClientError::code`), which the UI branches on; `message` is for people; `details`
/// carries what acting on it needs (a certificate fingerprint to confirm, when a lock
/// ends). Never a bare string.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CommandError {
    pub code: String,
    pub message: String,
    pub details: Option<serde_json::Value>,
}

impl CommandError {
    /// An error of the desktop shell itself (a command it does not know, arguments it
    /// cannot read, the client gone), with no details.
    pub fn new(code: &str, message: impl Into<String>) -> CommandError {
        CommandError { code: code.to_string(), message: message.into(), details: None }
    }
}

/// Where the window process finds its end of the line.
pub const WINDOW_FD: i32 = 3;

/// Set for the window process by the client that starts it (and by no one else).
pub const WINDOW_ENV: &str = "REAM_WINDOW_LINK";

/// A line longer than this is refused (commands' arguments and answers are small; a
/// job list of thousands stays well below).
pub const MAX_LINE: usize = 16 * 1024 * 1024;

/// A command of the webview, to be answered as [`ToWindow::Reply`] with the same id.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Call {
    pub id: u64,
    pub command: String,
    #[serde(default)]
    pub args: serde_json::Value,
}

/// From the window to the client.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FromWindow {
    Call(Call),
    /// The window showed itself for [`ToWindow::Navigate`] number `seq`.
    Shown {
        seq: u64,
    },
}

/// From the client to the window.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ToWindow {
    Reply {
        id: u64,
        result: Result<serde_json::Value, CommandError>,
    },
    Event(ClientEvent),
    /// Come forward, at `target` if one is given (see `window` for the targets).
    Navigate {
        seq: u64,
        target: Option<String>,
    },
}

/// Writes `message` as one line.
pub fn send(out: &mut impl Write, message: &impl Serialize) -> std::io::Result<()> {
    let mut line = serde_json::to_vec(message).map_err(std::io::Error::other)?;
    line.push(b'\n');
    out.write_all(&line)?;
    out.flush()
}

/// Reads the next message; `None` at the line's end. A line that is too long or not a
/// message is an error (the sides are the same binary: it means a bug, not a peer).
pub fn receive<T: for<'de> Deserialize<'de>>(input: &mut impl BufRead) -> std::io::Result<Option<T>> {
    let mut line = Vec::new();
    let read = input.by_ref().take(MAX_LINE as u64 + 1).read_until(b'\n', &mut line)?;
    if read == 0 {
        return Ok(None);
    }
    if !line.ends_with(b"\n") {
        return Err(std::io::Error::new(std::io::ErrorKind::InvalidData, "an unfinished or overlong line"));
    }
    serde_json::from_slice(&line)
        .map(Some)
        .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_go_over_one_line_each_and_the_end_is_none() {
        let mut wire = Vec::new();
        let call = FromWindow::Call(Call { id: 7, command: "jobs".into(), args: serde_json::json!({}) });
        send(&mut wire, &call).unwrap();
        let error = CommandError { code: "NOT_LOGGED_IN".into(), message: "nobody".into(), details: None };
        send(&mut wire, &ToWindow::Reply { id: 7, result: Err(error.clone()) }).unwrap();
        let mut input = std::io::BufReader::new(&wire[..]);
        assert_eq!(receive::<FromWindow>(&mut input).unwrap(), Some(call));
        assert_eq!(
            receive::<ToWindow>(&mut input).unwrap(),
            Some(ToWindow::Reply { id: 7, result: Err(error) })
        );
        assert_eq!(receive::<ToWindow>(&mut input).unwrap(), None);
    }

    #[test]
    fn a_broken_line_is_an_error_not_a_message() {
        let mut input = std::io::BufReader::new(&b"{\"call\":"[..]);
        assert!(receive::<FromWindow>(&mut input).is_err());
        let mut input = std::io::BufReader::new(&b"{\"steal\":1}\n"[..]);
        assert!(receive::<FromWindow>(&mut input).is_err());
    }
}
