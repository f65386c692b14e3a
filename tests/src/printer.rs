//! Real IPP printers for tests: `ippeveprinter` (CUPS' IPP Everywhere printer), keeping
//! every job's document in its own spool directory; and the CUPS scheduler, which
//! `scripts/test` starts (see `scripts/lib/printing.sh`).

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};

use crate::free_port;

pub struct Printer {
    child: Child,
    pub spool: tempfile::TempDir,
    pub port: u16,
    pub name: String,
    log: PathBuf,
}

impl Printer {
    /// A PDF printer on a free loopback port, answering both IPP and IPPS (with a
    /// certificate of its own).
    pub fn start(name: &str) -> Printer {
        Self::start_with(name, "/bin/true")
    }

    /// A printer that takes `seconds` to print each job.
    pub fn slow(name: &str, seconds: u32) -> Printer {
        let script = std::env::temp_dir().join(format!("ream-slow-printer-{seconds}.sh"));
        if !script.exists() {
            std::fs::write(&script, format!("#!/bin/sh\nsleep {seconds}\n")).unwrap();
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
        }
        Self::start_with(name, script.to_str().unwrap())
    }

    fn start_with(name: &str, command: &str) -> Printer {
        let spool = tempfile::tempdir().unwrap();
        let port = free_port();
        let log = spool.path().with_extension("log");
        let child = Command::new("ippeveprinter")
            .args(["-n", "localhost", "-p", &port.to_string(), "-d"])
            .arg(spool.path())
            .args(["-k", "-c", command, "-f", "application/pdf,image/pwg-raster,image/urf", name])
            // Its TLS credentials go under $HOME/.cups: keep them out of the real home.
            .env("HOME", spool.path())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .expect("ippeveprinter (Debian cups-ipp-utils; scripts/test installs it)");
        let printer = Printer { child, spool, port, name: name.into(), log };
        for _ in 0..100 {
            if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                return printer;
            }
            crate::sleep(100);
        }
        panic!(
            "ippeveprinter did not start on port {port} (is avahi-daemon running? scripts/test starts it)"
        );
    }

    /// Stops the printer process (SIGSTOP): connections are taken by the kernel and never
    /// answered, as a printer that hangs.
    pub fn hang(&self) {
        self.signal("-STOP");
    }

    /// Lets a hung printer go on (SIGCONT).
    pub fn wake(&self) {
        self.signal("-CONT");
    }

    fn signal(&self, signal: &str) {
        let done = Command::new("kill").args([signal, &self.child.id().to_string()]).status().unwrap();
        assert!(done.success(), "kill {signal} ippeveprinter");
    }

    pub fn uri(&self) -> String {
        format!("ipp://127.0.0.1:{}/ipp/print", self.port)
    }

    pub fn ipps_uri(&self) -> String {
        format!("ipps://127.0.0.1:{}/ipp/print", self.port)
    }

    /// What the printer logged (it says when a connection is encrypted).
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// The documents the printer received, in order.
    pub fn documents(&self) -> Vec<PathBuf> {
        let mut files: Vec<PathBuf> = std::fs::read_dir(self.spool.path())
            .map(|d| {
                d.flatten().map(|e| e.path()).filter(|p| p.extension().is_some_and(|x| x == "pdf")).collect()
            })
            .unwrap_or_default();
        files.sort();
        files
    }
}

impl Drop for Printer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_file(&self.log);
    }
}

/// A CUPS queue, deleted when dropped (CUPS is shared by the whole machine).
pub struct CupsQueue(pub String);

impl Drop for CupsQueue {
    fn drop(&mut self) {
        let _ = Command::new("lpadmin").args(["-x", &self.0]).output();
    }
}

/// `lp -d QUEUE [OPTIONS…] FILE`, as a user prints.
pub fn lp(queue: &str, options: &[&str], file: &std::path::Path) {
    let mut cmd = Command::new("lp");
    cmd.args(["-d", queue]);
    for o in options {
        cmd.args(["-o", o]);
    }
    let out = cmd.arg(file).output().expect("lp");
    assert!(out.status.success(), "lp failed: {}", String::from_utf8_lossy(&out.stderr));
}

/// An IPP request as bytes: `operation` with the attributes every request starts with,
/// sent by `user` (`requesting-user-name`), then `document`.
pub fn ipp_request(operation: u16, printer_uri: &str, user: &str, document: &[u8]) -> Vec<u8> {
    let mut b = vec![2, 0];
    b.extend(operation.to_be_bytes());
    b.extend(1u32.to_be_bytes());
    b.push(0x01);
    for (tag, name, value) in [
        (0x47u8, "attributes-charset", "utf-8"),
        (0x48, "attributes-natural-language", "en"),
        (0x45, "printer-uri", printer_uri),
        (0x42, "requesting-user-name", user),
    ] {
        b.push(tag);
        b.extend((name.len() as u16).to_be_bytes());
        b.extend(name.as_bytes());
        b.extend((value.len() as u16).to_be_bytes());
        b.extend(value.as_bytes());
    }
    b.push(0x03);
    b.extend(document);
    b
}

/// Sends an IPP `request` to the printer at `http_url`; the status code of its answer.
pub fn ipp_status(http_url: &str, request: Vec<u8>) -> u16 {
    let answer = reqwest::blocking::Client::new()
        .post(http_url)
        .header("content-type", "application/ipp")
        .body(request)
        .send()
        .and_then(|r| r.bytes())
        .expect("an IPP answer");
    assert!(answer.len() >= 4, "an IPP answer: {answer:?}");
    u16::from_be_bytes([answer[2], answer[3]])
}

impl Printer {
    /// Its `printer-state` as it answers Get-Printer-Attributes (3 idle, 4 processing, 5
    /// stopped); `None` when it does not answer.
    pub fn state(&self) -> Option<i32> {
        use ipp::prelude::*;
        let url = format!("http://127.0.0.1:{}/ipp/print", self.port);
        let answer = reqwest::blocking::Client::new()
            .post(url)
            .header("content-type", "application/ipp")
            .body(ipp_request(0x000B, &self.uri(), "tests", b""))
            .send()
            .and_then(|r| r.bytes())
            .ok()?;
        let parsed = ipp::parser::IppParser::new(ipp::reader::IppReader::new(std::io::Cursor::new(answer)))
            .parse()
            .ok()?;
        let group = parsed.attributes().groups_of(DelimiterTag::PrinterAttributes).next()?;
        let state = group.attributes().iter().find(|a| a.name().as_ref() == "printer-state")?;
        match state.value() {
            IppValue::Enum(state) => Some(*state),
            _ => None,
        }
    }
}
