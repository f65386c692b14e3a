//! What the desktop app's two programs share: the line between them (see ARCHITECTURE.md).
//! `ream-desktop` (`main.rs`) is the client, with no toolkit; `ream-window`
//! (`window.rs`) is the window, Tauri and WebKit.

pub mod link;
