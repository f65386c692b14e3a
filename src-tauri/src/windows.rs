//! The window as the client sees it: a program of its own (`ream-window`, beside this
//! one), started when somebody opens it and gone when it closes, so that nothing of
//! WebKit stays in memory while the app sits in the tray. The client answers the
//! window's commands with its engine and sends it the engine's events and where to go,
//! over [`ream_desktop::link`].
//!
//! At most one window runs. Opening it while one runs brings that one forward (at a
//! target, if given); a window that does not acknowledge (it is closing) is followed by
//! a new one once its line has ended.

use std::collections::HashMap;
use std::io::BufReader;
use std::os::unix::io::AsRawFd;
use std::os::unix::net::UnixStream;
use std::os::unix::process::CommandExt;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use ream_client::Engine;
use tokio::runtime::Handle;
use tokio::sync::{mpsc, oneshot};

use ream_desktop::link::{self, FromWindow, ToWindow, WINDOW_ENV, WINDOW_FD};

/// How long a running window may take to come forward before the client gives up on
/// that request (it never starts a second window beside one that runs).
const ACK_PATIENCE: Duration = Duration::from_secs(30);

#[derive(Clone)]
pub struct Windows {
    inner: Arc<Inner>,
}

struct Inner {
    engine: Engine,
    runtime: Handle,
    /// The running window, if any.
    current: Mutex<Option<Running>>,
    /// One opening at a time (the tray and a notification at once make one window).
    opening: tokio::sync::Mutex<()>,
    quitting: AtomicBool,
    next: AtomicU64,
    /// Called after the window changed the language (the tray speaks it at once).
    on_language: Box<dyn Fn() + Send + Sync>,
}

#[derive(Clone)]
struct Running {
    number: u64,
    to: mpsc::UnboundedSender<ToWindow>,
    acks: Arc<Mutex<HashMap<u64, oneshot::Sender<()>>>>,
}

impl Windows {
    pub fn new(engine: Engine, runtime: Handle, on_language: impl Fn() + Send + Sync + 'static) -> Windows {
        Windows {
            inner: Arc::new(Inner {
                engine,
                runtime,
                current: Mutex::new(None),
                opening: tokio::sync::Mutex::new(()),
                quitting: AtomicBool::new(false),
                next: AtomicU64::new(1),
                on_language: Box::new(on_language),
            }),
        }
    }

    /// Opens the window (at `target`: "dashboard", "jobs", "login", "settings",
    /// "about", "job:<id>" or "fallback:<job>"), or brings it forward. False once the
    /// app is quitting.
    pub fn open(&self, target: Option<String>) -> bool {
        if self.inner.quitting.load(Ordering::SeqCst) {
            return false;
        }
        let this = self.clone();
        self.inner.runtime.spawn(async move { this.open_now(target).await });
        true
    }

    /// From now on no window opens; the running one ends with the client.
    pub fn quit(&self) {
        self.inner.quitting.store(true, Ordering::SeqCst);
        self.inner.current.lock().expect("windows").take();
    }

    /// Tells the window, if one runs, of an engine event.
    pub fn send(&self, message: ToWindow) {
        if let Some(running) = self.inner.current.lock().expect("windows").as_ref() {
            let _ = running.to.send(message);
        }
    }

    async fn open_now(&self, target: Option<String>) {
        let _one_at_a_time = self.inner.opening.lock().await;
        let running = self.inner.current.lock().expect("windows").clone();
        if let Some(running) = running {
            let seq = self.inner.next.fetch_add(1, Ordering::SeqCst);
            let (ack, acked) = oneshot::channel();
            running.acks.lock().expect("acks").insert(seq, ack);
            if running.to.send(ToWindow::Navigate { seq, target: target.clone() }).is_ok() {
                match tokio::time::timeout(ACK_PATIENCE, acked).await {
                    Ok(Ok(())) => return,
                    // The line ended before it came forward: it was closing.
                    Ok(Err(_)) => {}
                    Err(_) => {
                        tracing::warn!("the window did not come forward");
                        return;
                    }
                }
            }
            // Its line has ended (the acknowledgements are dropped then): it is gone.
            let mut current = self.inner.current.lock().expect("windows");
            if current.as_ref().is_some_and(|c| c.number == running.number) {
                current.take();
            }
        }
        if self.inner.quitting.load(Ordering::SeqCst) {
            return;
        }
        if let Err(e) = self.start(target) {
            tracing::warn!(error = %e, "cannot open the window");
        }
    }

    /// Starts `ream-window` (installed beside `ream-desktop`) with its end of a new line
    /// as [`WINDOW_FD`].
    fn start(&self, target: Option<String>) -> std::io::Result<()> {
        let (ours, theirs) = UnixStream::pair()?;
        let mut command = std::process::Command::new(std::env::current_exe()?.with_file_name("ream-window"));
        command.env(WINDOW_ENV, "1");
        if let Some(target) = &target {
            command.args(["--open", target]);
        }
        let fd = theirs.as_raw_fd();
        // SAFETY: between fork and exec only async-signal-safe calls (dup2, fcntl).
        unsafe {
            command.pre_exec(move || {
                let done = if fd == WINDOW_FD {
                    libc::fcntl(fd, libc::F_SETFD, 0)
                } else {
                    libc::dup2(fd, WINDOW_FD)
                };
                if done < 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
        let child = command.spawn()?;
        drop(theirs);

        let number = self.inner.next.fetch_add(1, Ordering::SeqCst);
        let (to, mut outgoing) = mpsc::unbounded_channel::<ToWindow>();
        let acks: Arc<Mutex<HashMap<u64, oneshot::Sender<()>>>> = Arc::default();
        *self.inner.current.lock().expect("windows") =
            Some(Running { number, to: to.clone(), acks: acks.clone() });

        let mut writer = ours.try_clone()?;
        std::thread::Builder::new().name("window-out".into()).spawn(move || {
            while let Some(message) = outgoing.blocking_recv() {
                if link::send(&mut writer, &message).is_err() {
                    break;
                }
            }
            let _ = writer.shutdown(std::net::Shutdown::Both);
        })?;

        let this = self.clone();
        std::thread::Builder::new().name("window-in".into()).spawn(move || {
            this.serve(BufReader::new(ours), &to, &acks);
            // The line has ended: the window is gone (or going); forget it, and reap it.
            acks.lock().expect("acks").clear();
            let mut current = this.inner.current.lock().expect("windows");
            if current.as_ref().is_some_and(|c| c.number == number) {
                current.take();
            }
            drop(current);
            drop(to);
            let mut child = child;
            let _ = child.wait();
        })?;
        Ok(())
    }

    /// Answers the window's calls until its line ends.
    fn serve(
        &self,
        mut input: BufReader<UnixStream>,
        to: &mpsc::UnboundedSender<ToWindow>,
        acks: &Mutex<HashMap<u64, oneshot::Sender<()>>>,
    ) {
        loop {
            match link::receive::<FromWindow>(&mut input) {
                Ok(Some(FromWindow::Call(call))) => {
                    let (engine, to, this) = (self.inner.engine.clone(), to.clone(), self.clone());
                    self.inner.runtime.spawn(async move {
                        let result = crate::commands::call(&engine, &call.command, call.args).await;
                        if call.command == "set_language" && result.is_ok() {
                            (this.inner.on_language)();
                        }
                        let _ = to.send(ToWindow::Reply { id: call.id, result });
                    });
                }
                Ok(Some(FromWindow::Shown { seq })) => {
                    if let Some(ack) = acks.lock().expect("acks").remove(&seq) {
                        let _ = ack.send(());
                    }
                }
                Ok(None) => return,
                Err(e) => {
                    tracing::warn!(error = %e, "the window's line is broken; closing it");
                    return;
                }
            }
        }
    }
}
