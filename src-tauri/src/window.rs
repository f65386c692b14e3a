//! `ream-window`: the desktop app's window, a program of its own started by the client
//! (`ream-desktop`, see its `windows` module) and ending when its window closes: while
//! nobody looks, no webview, no WebKit process, nothing of GTK stays in memory, and the
//! client links none of it. It holds no state: the webview's commands go over
//! [`ream_desktop::link`] to the client's engine, whose events come back as
//! `ream://event`; where to go comes as `ream://navigate`.
//!
//! Where to go is a window's address at start (`index.html?open=TARGET`) and a
//! `ream://navigate` event later: "dashboard", "jobs", "login", "settings", "about",
//! "job:<id>" or "fallback:<job>".

use std::collections::HashMap;
use std::io::BufReader;
use std::os::unix::io::FromRawFd;
use std::os::unix::net::UnixStream;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use tauri::ipc::{Invoke, InvokeBody, InvokeResolver};
use tauri::{AppHandle, Emitter, Manager, RunEvent, WebviewUrl, WebviewWindow, WebviewWindowBuilder, Wry};

use ream_desktop::link::{self, Call, CommandError, FromWindow, ToWindow, WINDOW_ENV, WINDOW_FD};

const MAIN: &str = "main";
const EVENT: &str = "ream://event";
const NAVIGATE: &str = "ream://navigate";

/// The line to the client, as the client left it for this process; `None` when this
/// process was not started by a client (then there is nothing to show).
fn take_link() -> Option<UnixStream> {
    std::env::var_os(WINDOW_ENV)?;
    // SAFETY: fstat on a descriptor number only reads its status.
    let is_socket = unsafe {
        let mut stat: libc::stat = std::mem::zeroed();
        libc::fstat(WINDOW_FD, &mut stat) == 0 && stat.st_mode & libc::S_IFMT == libc::S_IFSOCK
    };
    // SAFETY: the descriptor is a socket this process was given and nothing else owns.
    is_socket.then(|| unsafe { UnixStream::from_raw_fd(WINDOW_FD) })
}

/// Commands on their way to the client, by id, until its answer comes.
struct Client {
    out: Mutex<UnixStream>,
    pending: Mutex<HashMap<u64, InvokeResolver<Wry>>>,
    next: AtomicU64,
}

impl Client {
    fn call(&self, command: String, args: serde_json::Value, resolver: InvokeResolver<Wry>) {
        let id = self.next.fetch_add(1, Ordering::SeqCst);
        self.pending.lock().expect("pending").insert(id, resolver);
        let sent =
            link::send(&mut *self.out.lock().expect("link"), &FromWindow::Call(Call { id, command, args }));
        if sent.is_err() {
            if let Some(resolver) = self.pending.lock().expect("pending").remove(&id) {
                resolver.reject(gone());
            }
        }
    }

    fn answer(&self, id: u64, result: Result<serde_json::Value, CommandError>) {
        let Some(resolver) = self.pending.lock().expect("pending").remove(&id) else { return };
        match result {
            Ok(value) => resolver.resolve(value),
            Err(error) => resolver.reject(error),
        }
    }

    fn shown(&self, seq: u64) {
        let _ = link::send(&mut *self.out.lock().expect("link"), &FromWindow::Shown { seq });
    }
}

fn gone() -> CommandError {
    CommandError::new("CLIENT_GONE", "the Ream client has ended")
}

/// Set when the window is closing: a request to come forward then goes unanswered, and
/// the client starts a new window once this process has ended.
static CLOSING: AtomicBool = AtomicBool::new(false);

/// `ream-window [--open TARGET]`: runs the window until it closes or the client ends.
fn main() -> std::process::ExitCode {
    before_gtk();
    ream_desktop::log_to_stderr();
    let mut args = std::env::args().skip(1);
    let mut target = None;
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--open" => target = args.next(),
            other => tracing::warn!(argument = other, "unknown argument ignored"),
        }
    }
    let Some(link) = take_link() else {
        eprintln!("ream-window is started by the running Ream client: start ream-desktop instead.");
        return std::process::ExitCode::from(2);
    };
    let input = match link.try_clone() {
        Ok(input) => input,
        Err(e) => {
            eprintln!("cannot read from the Ream client: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    let client =
        Arc::new(Client { out: Mutex::new(link), pending: Mutex::default(), next: AtomicU64::new(1) });
    let forwarder = client.clone();
    let app = tauri::Builder::default()
        // Every command goes to the client as it came: the capability has already
        // refused any the webview was not given (`build.rs`, `capabilities/main.json`).
        .invoke_handler(move |invoke: Invoke<Wry>| {
            let command = invoke.message.command().to_string();
            match invoke.message.payload() {
                InvokeBody::Json(args) => forwarder.call(command, args.clone(), invoke.resolver),
                InvokeBody::Raw(_) => {
                    invoke.resolver.reject(CommandError::new("BAD_ARGUMENTS", "arguments are JSON"))
                }
            }
            true
        })
        .on_window_event(|window, event| {
            if window.label() == MAIN
                && matches!(event, tauri::WindowEvent::CloseRequested { .. } | tauri::WindowEvent::Destroyed)
            {
                CLOSING.store(true, Ordering::SeqCst);
            }
        })
        .setup(move |app| {
            create(app.handle(), target.as_deref())?;
            let (handle, client) = (app.handle().clone(), client.clone());
            std::thread::Builder::new()
                .name("client-in".into())
                .spawn(move || listen(handle, client, input))?;
            Ok(())
        })
        .build(tauri::generate_context!());
    match app {
        Ok(app) => {
            app.run(|_, event| {
                if let RunEvent::Exit = event {
                    CLOSING.store(true, Ordering::SeqCst);
                }
            });
            std::process::ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("the Ream window failed to start: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}

/// What the client says, until it ends (then the window does too).
fn listen(app: AppHandle, client: Arc<Client>, input: UnixStream) {
    let mut input = BufReader::new(input);
    loop {
        match link::receive::<ToWindow>(&mut input) {
            Ok(Some(ToWindow::Reply { id, result })) => client.answer(id, result),
            Ok(Some(ToWindow::Event(event))) => {
                if let Err(e) = app.emit(EVENT, &event) {
                    tracing::warn!(error = %e, "cannot send an event to the webview");
                }
            }
            Ok(Some(ToWindow::Navigate { seq, target })) => {
                let (handle, client) = (app.clone(), client.clone());
                let queued = app.run_on_main_thread(move || {
                    if !CLOSING.load(Ordering::SeqCst) && come_forward(&handle, target.as_deref()) {
                        client.shown(seq);
                    }
                });
                if let Err(e) = queued {
                    tracing::warn!(error = %e, "cannot bring the window forward");
                }
            }
            Ok(None) => break,
            Err(e) => {
                tracing::warn!(error = %e, "the client's line is broken");
                break;
            }
        }
    }
    for (_, resolver) in client.pending.lock().expect("pending").drain() {
        resolver.reject(gone());
    }
    app.exit(0);
}

/// Shows the window, at `target` if given; false if it is gone.
fn come_forward(app: &AppHandle, target: Option<&str>) -> bool {
    let Some(window) = app.get_webview_window(MAIN) else { return false };
    let _ = window.unminimize();
    let _ = window.show();
    let _ = window.set_focus();
    if let Some(target) = target {
        if let Err(e) = app.emit_to(MAIN, NAVIGATE, target) {
            tracing::warn!(error = %e, target, "cannot ask the window to navigate");
        }
    }
    true
}

/// The window as `tauri.conf.json` describes it (`"create": false`: made here, at
/// `target`).
fn create(app: &AppHandle, target: Option<&str>) -> tauri::Result<WebviewWindow> {
    let mut config = app
        .config()
        .app
        .windows
        .iter()
        .find(|w| w.label == MAIN)
        .cloned()
        .ok_or(tauri::Error::WindowNotFound)?;
    // Targets are screen names and ids (letters, digits, '-' and ':'): nothing to escape.
    let page = match target {
        Some(target) => format!("index.html?open={target}"),
        None => "index.html".to_string(),
    };
    config.url = WebviewUrl::App(page.into());
    let window = WebviewWindowBuilder::from_config(app, &config)?.build()?;
    #[cfg(target_os = "linux")]
    lighten(&window);
    Ok(window)
}

/// WebKitGTK composites pages with OpenGL: on a computer without a GPU (a virtual
/// desktop, a terminal server, most thin clients) Mesa's software renderer doubled the
/// web process (203 MB → 105 MB without it, `scripts/bench desktop`), and forms and
/// tables have nothing to accelerate. One local page needs no web caches either.
#[cfg(target_os = "linux")]
fn lighten(window: &WebviewWindow) {
    let done = window.with_webview(|webview| {
        use webkit2gtk::{CacheModel, HardwareAccelerationPolicy, SettingsExt, WebContextExt, WebViewExt};
        let webview = webview.inner();
        if let Some(settings) = WebViewExt::settings(&webview) {
            settings.set_hardware_acceleration_policy(HardwareAccelerationPolicy::Never);
        }
        if let Some(context) = webview.context() {
            context.set_cache_model(CacheModel::DocumentViewer);
        }
    });
    if let Err(e) = done {
        tracing::warn!(error = %e, "cannot lighten the webview");
    }
}

/// Settings GTK reads when it starts, before any thread does: GTK need not probe OpenGL
/// at start (it loads Mesa, and with a software renderer LLVM); nothing of ours draws
/// with it and the webview composites without it (see [`lighten`]). A value the user
/// set is kept.
fn before_gtk() {
    if std::env::var_os("GDK_GL").is_none() {
        // SAFETY (edition 2024 would ask): no other thread runs yet.
        std::env::set_var("GDK_GL", "disable");
    }
}
